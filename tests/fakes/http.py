"""Shared base for the loopback fake HTTP servers used in tests.

A ``FakeServer`` is a real HTTP server (``ThreadingHTTPServer``) bound to ``127.0.0.1`` on a
random free port, serving from a daemon thread. Real client libraries (slack_sdk's urllib client,
httpx, the anthropic SDK) talk to it over TCP, so the tests exercise their real request building,
error handling and retries.

Every request is recorded as a :class:`Recorded` (method, path, query, headers, raw body and the
parsed JSON or form body) before the fake answers it. Subclasses implement :meth:`FakeServer.handle`
and return a :class:`Reply`; their state is mutated under ``self.lock`` (the base class holds it
while ``handle`` runs, so handlers never race each other).

Scripted failures (``fail_next``) and slow responses (``slow_next``) are matched by a *key*:

- ``"*"``: any request;
- a path or glob starting with ``/`` (``"/conversations/*/messages"``), matched against the path
  without the query string;
- ``"POST /path"``: an HTTP verb and a path glob;
- an HTTP verb alone (``"GET"``);
- any other word is a name the subclass gives the request (:meth:`FakeServer.names`): the Slack
  method (``"chat.postMessage"``), the integration action (``"revoke-access"``)...

A scripted failure answers instead of the handler (nothing is applied); ``slow_next`` lets the
handler run (the change is applied) and only delays the response. Delays end early when the
server stops, so a test never hangs on ``stop()``.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HTTP_VERBS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


@dataclass
class Recorded:
    """One request the fake received.

    ``headers`` keys are lower-cased (use ``header("X-Name")`` for a case-insensitive read).
    ``query`` and ``form`` keep the last value of each field. ``json`` is the parsed body when it
    was JSON, ``form`` when it was ``application/x-www-form-urlencoded``; otherwise ``None``.
    ``status`` is the status code the fake answered with (``None`` until answered).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] | None = None
    at: float = field(default_factory=time.time)
    status: int | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    @property
    def data(self) -> dict[str, Any]:
        """Query, form and JSON-object fields merged (JSON wins): what an API method received."""
        merged: dict[str, Any] = dict(self.query)
        if self.form:
            merged.update(self.form)
        if isinstance(self.json, dict):
            merged.update(self.json)
        return merged


@dataclass
class Reply:
    """What a handler answers. ``body`` may be a dict/list (sent as JSON), str, bytes or None."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        lower = {k.lower() for k in headers}
        if self.body is None:
            data = b""
        elif isinstance(self.body, bytes):
            data = self.body
        elif isinstance(self.body, str):
            data = self.body.encode()
            if "content-type" not in lower:
                headers["Content-Type"] = "text/plain; charset=utf-8"
        else:
            data = json.dumps(self.body).encode()
            if "content-type" not in lower:
                headers["Content-Type"] = "application/json"
        return data, headers


@dataclass
class _Script:
    key: str
    status: int | None  # None: run the handler normally (slow response)
    body: Any
    headers: dict[str, str]
    times: int
    delay: float


def parse_request(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Recorded:
    parts = urlsplit(raw_path)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    parsed_json: Any = None
    form: dict[str, str] | None = None
    if body and (ctype == "application/json" or ctype.endswith("+json")):
        try:
            parsed_json = json.loads(body)
        except ValueError:
            parsed_json = None
    elif body and ctype == "application/x-www-form-urlencoded":
        form = {
            k: v[-1]
            for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()
        }
    return Recorded(method, parts.path, query, headers, body, parsed_json, form)


class FakeServer:
    """Base loopback server. Use as a context manager or call ``start()`` / ``stop()``.

    Subclasses override :meth:`handle` (and optionally :meth:`names`, :meth:`error_body`,
    :meth:`_reset_state`).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._requests: list[Recorded] = []
        self._scripts: list[_Script] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeServer:
        if self._server is not None:
            return self
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                pass

            def _serve(self) -> None:
                fake._serve_one(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        class Server(ThreadingHTTPServer):
            request_queue_size = (
                128  # the default 5 drops SYNs under concurrent clients (1 s stalls)
            )

        server = Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._stopping.clear()
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    # -- recording ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        """A copy of every request received so far, oldest first."""
        with self.lock:
            return list(self._requests)

    def calls(self, key: str = "*") -> list[Recorded]:
        """Recorded requests matching ``key`` (same syntax as ``fail_next``)."""
        return [r for r in self.requests if self._matches(key, r)]

    def clear_requests(self) -> None:
        with self.lock:
            self._requests.clear()

    def reset(self) -> None:
        """Forget recorded requests, pending scripts and the subclass's stored state."""
        with self.lock:
            self._requests.clear()
            self._scripts.clear()
            self._reset_state()

    def _reset_state(self) -> None:
        """Subclasses clear their stores here (called under the lock)."""

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(
        self,
        path_or_method: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        delay: float = 0,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of handling them.

        ``body`` defaults to the subclass's error body for that status (:meth:`error_body`).
        ``delay`` seconds pass before the answer is written (for client timeout tests).
        """
        with self.lock:
            self._scripts.append(
                _Script(path_or_method, status, body, dict(headers or {}), times, delay)
            )

    def slow_next(self, path_or_method: str, delay: float, times: int = 1) -> None:
        """Handle the next ``times`` matching requests normally (changes are applied), then wait
        ``delay`` seconds before writing the response."""
        with self.lock:
            self._scripts.append(_Script(path_or_method, None, None, {}, times, delay))

    def pending_scripts(self) -> int:
        with self.lock:
            return sum(s.times for s in self._scripts)

    def _take_script(self, req: Recorded) -> _Script | None:
        with self.lock:
            for script in self._scripts:
                if self._matches(script.key, req):
                    script.times -= 1
                    if script.times <= 0:
                        self._scripts.remove(script)
                    return script
        return None

    def _matches(self, key: str, req: Recorded) -> bool:
        if key == "*":
            return True
        if key.startswith("/"):
            return fnmatch.fnmatchcase(req.path, key)
        if " " in key:
            verb, _, pattern = key.partition(" ")
            return req.method == verb.upper() and fnmatch.fnmatchcase(req.path, pattern.strip())
        if key in HTTP_VERBS:
            return req.method == key
        return key in self.names(req)

    # -- subclass hooks ----------------------------------------------------------------------

    def names(self, req: Recorded) -> set[str]:
        """Names this request answers to in ``fail_next`` / ``calls`` besides its path."""
        return set()

    def error_body(self, status: int, req: Recorded) -> Any:
        """Default body of a scripted failure."""
        return {"error": f"scripted failure {status}"}

    def handle(self, req: Recorded) -> Reply:
        return Reply(404, {"error": "not found"})

    def finish(self, req: Recorded, reply: Reply) -> Reply:
        """Last look at every answer, scripted ones included (headers the vendor always sends)."""
        return reply

    # -- serving -----------------------------------------------------------------------------

    def _serve_one(self, h: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in h.headers.items()}
        body = _read_body(h, headers)
        req = parse_request(h.command, h.path, headers, body)
        with self.lock:
            self._requests.append(req)
        script = self._take_script(req)
        try:
            if script is not None and script.status is not None:
                self._sleep(script.delay)
                reply = Reply(
                    script.status,
                    script.body if script.body is not None else self.error_body(script.status, req),
                    script.headers,
                )
            else:
                reply = self._dispatch(req)
                if script is not None:
                    self._sleep(script.delay)
        except Exception as exc:  # a bug in the fake must surface, not hang the client
            reply = Reply(
                500,
                {"error": f"{type(self).__name__} crashed: {exc!r}"},
                {"x-should-retry": "false"},
            )
        reply = self.finish(req, reply)
        req.status = reply.status
        data, out_headers = reply.encode()
        try:
            h.send_response(reply.status)
            for name, value in out_headers.items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Connection", "close")
            h.end_headers()
            if h.command != "HEAD" and data:
                h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the client gave up (timeout test): the request stays recorded

    def _dispatch(self, req: Recorded) -> Reply:
        with self.lock:
            return self.handle(req)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)


def _read_body(h: BaseHTTPRequestHandler, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = h.rfile.readline()
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
        return b"".join(chunks)
    length = int(headers.get("content-length", "0") or 0)
    return h.rfile.read(length) if length > 0 else b""


def locked_list(attr: str, *, deep: bool = False) -> Any:
    """A read-only property: a copy of the list ``self.<attr>``, taken under the fake's lock (with
    ``deep``, a copy of the items too, through JSON)."""

    def get(self: FakeServer) -> list[Any]:
        with self.lock:
            items = getattr(self, attr)
            return json.loads(json.dumps(items)) if deep else list(items)

    return property(get)


def bearer_token(req: Recorded) -> str | None:
    auth = req.header("authorization") or ""
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
