"""HTTP front: the Inngest server endpoints the SDK calls, plus /_double/*."""

from __future__ import annotations

import http.server
import json
import re
import typing

from . import _support as sup

if typing.TYPE_CHECKING:
    from ._double import InngestDouble

MAX_EVENT_BYTES = 256 * 1024
"""Inngest Cloud's maximum event size on the free tier (paid plans: 3 MiB); the double refuses a
request over it with 413, so code that passes here fits every plan."""

_EVENT_PATH = re.compile(r"^/e/([^/]*)$")
_RUN_API_PATH = re.compile(r"^/v[01]/runs/([^/]+)/(batch|actions)$")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DoubleHTTPServer

    # --------------------------------------------------------- plumbing

    @property
    def double(self) -> InngestDouble:
        return self.server.double

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> object:
        raw = self._body()
        return json.loads(raw) if raw.strip() else {}

    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Inngest-Server-Kind", self.double.engine.server_kind)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the caller gave up waiting (a hung event API)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _authorized(self) -> bool:
        """Cloud mode: API calls carry `Authorization: Bearer <sha256 of key>`."""
        key = self.double.engine.signing_key
        if not key:
            return True
        header = self.headers.get("Authorization") or ""
        token = sup.strip_key_prefix(header.removeprefix("Bearer ").strip())
        return token == sup.hashed_signing_key(key)

    # --------------------------------------------------------- verbs

    def do_GET(self) -> None:  # noqa: N802
        path = self._path()
        if path.startswith("/_double/"):
            return self._inspect_get(path)
        match = _RUN_API_PATH.match(path)
        if match:
            return self._run_api(match.group(1), match.group(2))
        if path == "/health":
            return self._send(200, {"status": "ok"})
        if path == "/dev":
            return self._send(200, self._dev_info())
        return self._send(404, {"error": f"not found: {path}"})

    def do_POST(self) -> None:  # noqa: N802
        path = self._path()
        try:
            if path.startswith("/_double/"):
                return self._inspect_post(path)
            if path == "/fn/register":
                return self._register()
            match = _EVENT_PATH.match(path)
            if match:
                return self._events(match.group(1))
        except json.JSONDecodeError as err:
            return self._send(400, {"error": f"invalid JSON: {err}"})
        return self._send(404, {"error": f"not found: {path}"})

    def do_PUT(self) -> None:  # noqa: N802
        self._send(404, {"error": f"not found: {self._path()}"})

    # --------------------------------------------------------- Inngest API

    def _register(self) -> None:
        engine = self.double.engine
        if not self._authorized():
            return self._send(401, {"error": "authentication failed"})
        expected = self.headers.get("X-Inngest-Expected-Server-Kind")
        if expected and expected != engine.server_kind:
            return self._send(
                400, {"error": f"expected server kind {expected}, this is {engine.server_kind}"}
            )
        body = self._json_body()
        if not isinstance(body, dict):
            return self._send(400, {"error": "body must be an object"})
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.double.register_requests.append({"headers": headers, "body": body})
        status, answer = engine.register(body)
        self._send(status, answer)

    def _events(self, key: str) -> None:
        expected = self.double.engine.event_key
        if expected is not None and key != expected:
            self._body()
            return self._send(401, {"error": "Event key not found", "ids": [], "status": 401})
        engine = self.double.engine
        if engine.hang_events.is_set():
            engine.hung_requests += 1
            if not engine.release_events.wait(engine.hang_seconds):
                self.close_connection = True  # hung: the caller never gets an answer
                return None
        raw = self._body()
        if len(raw) > MAX_EVENT_BYTES:
            engine.refused_events.append(len(raw))
            return self._send(
                413,
                {
                    "error": f"event payload is {len(raw)} bytes, over the {MAX_EVENT_BYTES} limit",
                    "ids": [],
                    "status": 413,
                },
            )
        body = json.loads(raw) if raw.strip() else {}
        events = body if isinstance(body, list) else [body]
        for event in events:
            if (
                not isinstance(event, dict)
                or not isinstance(event.get("name"), str)
                or not event["name"]
            ):
                return self._send(
                    400, {"error": "every event needs a non-empty name", "ids": [], "status": 400}
                )
        ids = self.double.engine.ingest(events)
        self._send(200, {"ids": ids, "status": 200})

    def _run_api(self, run_id: str, what: str) -> None:
        if not self._authorized():
            return self._send(401, {"error": "authentication failed"})
        run = self.double.engine.find_run(run_id)
        if run is None:
            return self._send(404, {"error": "run not found"})
        self._send(200, run.events if what == "batch" else run.steps)

    def _dev_info(self) -> dict[str, typing.Any]:
        engine = self.double.engine
        return {
            "version": "inngest-double",
            "isSingleNodeService": False,
            "isMissingSigningKey": engine.signing_key is None,
            "isMissingEventKey": engine.event_key is None,
            "functions": [fn.raw for fn in engine.functions.values()],
        }

    # --------------------------------------------------------- inspection API

    def _inspect_get(self, path: str) -> None:
        double = self.double
        if path == "/_double/events":
            return self._send(200, {"events": double.events})
        if path == "/_double/runs":
            return self._send(200, {"runs": [r.to_dict() for r in double.runs]})
        if path == "/_double/functions":
            return self._send(200, {"functions": [f.raw for f in double.functions.values()]})
        if path == "/_double/state":
            return self._send(200, double.state())
        return self._send(404, {"error": f"not found: {path}"})

    def _inspect_post(self, path: str) -> None:
        double = self.double
        body = self._json_body()
        body = body if isinstance(body, dict) else {}
        if path == "/_double/advance":
            double.advance(float(body.get("seconds", 0)))
            return self._send(200, double.state())
        if path == "/_double/wait-idle":
            idle = double.wait_idle(float(body.get("timeout", 10)), raise_on_timeout=False)
            return self._send(200, {"idle": idle, **double.state()})
        if path == "/_double/send":
            events = body.get("events") or []
            return self._send(200, {"ids": double.send(events)})
        if path == "/_double/sync":
            return self._send(200, double.sync(body["url"]))
        if path == "/_double/trigger-cron":
            run = double.trigger_cron(body["fn"])
            return self._send(200, {"run_id": run.run_id if run else None})
        return self._send(404, {"error": f"not found: {path}"})


class DoubleHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], double: InngestDouble):
        self.double = double
        super().__init__(address, Handler)
