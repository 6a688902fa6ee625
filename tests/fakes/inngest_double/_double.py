"""Public facade: InngestDouble (lifecycle, clock, inspection helpers)."""

from __future__ import annotations

import threading
import time
import typing

import httpx

from . import _support as sup
from ._engine import Engine
from ._model import FunctionDef, Run
from ._server import DoubleHTTPServer


class InngestDouble:
    """An Inngest server test double on 127.0.0.1. See the package docstring."""

    def __init__(
        self,
        signing_key: str | None = None,
        event_key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        **engine_options: typing.Any,
    ) -> None:
        """``engine_options`` go to the ``Engine`` (``realtime``, ``retry_delay``, ``workers``,
        ``call_timeout``: see there)."""
        self.host, self.port = host, port
        self.engine = Engine(signing_key=signing_key, event_key=event_key, **engine_options)
        self.register_requests: list[dict[str, typing.Any]] = []
        self._server: DoubleHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> InngestDouble:
        self._server = DoubleHTTPServer((self.host, self.port), self)
        self.port = self._server.server_address[1]
        serve = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="inngest-double-http",
            daemon=True,
        )
        drive = threading.Thread(target=self._drive, name="inngest-double-driver", daemon=True)
        self._threads = [serve, drive]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.engine.release_events.set()
        with self.engine._cond:
            self.engine._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self.engine.shutdown()

    def __enter__(self) -> InngestDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self.start()
        try:
            self._stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def _drive(self) -> None:
        """Background driver: starts due work whenever something changes."""
        cond = self.engine._cond
        while not self._stop.is_set():
            with cond:
                self.engine.tick()
                timeout = 1.0
                if self.engine.clock.realtime:
                    due = self.engine.next_due()
                    if due is not None:
                        timeout = min(timeout, max(0.005, due - self.now()))
                cond.wait(timeout)

    # ------------------------------------------------------------ addresses and state

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def signing_key(self) -> str | None:
        return self.engine.signing_key

    @property
    def event_key(self) -> str | None:
        return self.engine.event_key

    @property
    def clock(self) -> sup.VirtualClock:
        return self.engine.clock

    def now(self) -> float:
        """Virtual time, unix seconds."""
        return self.engine.now()

    @property
    def events(self) -> list[dict[str, typing.Any]]:
        """Every event received on the Event API or via send(), duplicates included."""
        return self.engine.snapshot_events()

    @property
    def internal_events(self) -> list[dict[str, typing.Any]]:
        """inngest/function.finished|failed|cancelled events the double emitted."""
        return list(self.engine.internal_events)

    @property
    def duplicate_events(self) -> list[dict[str, typing.Any]]:
        return list(self.engine.duplicate_events)

    @property
    def skipped(self) -> list[dict[str, typing.Any]]:
        """Runs not created: {"fn_id", "reason": "rate_limit"|"idempotency", ...}."""
        return list(self.engine.skipped)

    @property
    def protocol_errors(self) -> list[str]:
        """Things the SDK did that the real server would not accept."""
        return list(self.engine.protocol_errors)

    @property
    def runs(self) -> list[Run]:
        return self.engine.snapshot_runs()

    @property
    def functions(self) -> dict[str, FunctionDef]:
        return dict(self.engine.functions)

    def function(self, fn_id_suffix: str) -> FunctionDef:
        matches = [f for f in self.engine.functions.values() if f.id.endswith(fn_id_suffix)]
        if len(matches) != 1:
            raise KeyError(
                f"{len(matches)} functions match {fn_id_suffix!r}: {list(self.engine.functions)}"
            )
        return matches[0]

    def runs_for(self, fn_id_suffix: str) -> list[Run]:
        return [r for r in self.runs if r.fn_id.endswith(fn_id_suffix)]

    def events_named(self, name: str) -> list[dict[str, typing.Any]]:
        return [e for e in self.events if e["name"] == name]

    def state(self) -> dict[str, typing.Any]:
        return {
            "now": self.now(),
            "events": self.events,
            "runs": [r.to_dict() for r in self.runs],
            "skipped": self.skipped,
            "protocol_errors": self.protocol_errors,
        }

    @property
    def refused_events(self) -> list[int]:
        """Sizes (bytes) of Event API requests refused with 413 for exceeding 256 KiB."""
        return list(self.engine.refused_events)

    # ------------------------------------------------------------ faults

    def hang_event_api(self, seconds: float = 60.0) -> None:
        """From now on the Event API accepts connections but answers nothing for ``seconds``
        (then drops the connection), like an event API that hangs. ``release_event_api()``
        ends it: held requests are then processed normally."""
        self.engine.hang_seconds = seconds
        self.engine.release_events.clear()
        self.engine.hang_events.set()

    def release_event_api(self, *, process_held: bool = True) -> None:
        """The Event API answers again. Requests held meanwhile are processed (as if Inngest took
        them but the answer came too late), or with ``process_held=False`` dropped unanswered
        when their hang time ends (as if they never arrived)."""
        self.engine.hang_events.clear()
        if process_held:
            self.engine.release_events.set()

    @property
    def hung_requests(self) -> int:
        """How many Event API requests arrived while it was hung."""
        return self.engine.hung_requests

    def wait_for_hung_request(self, timeout: float = 15.0) -> None:
        """Block until a request has reached the hung Event API (AssertionError after
        ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.engine.hung_requests == 0:
            assert time.monotonic() < deadline, "no request reached the hung event API"
            time.sleep(0.01)

    # ------------------------------------------------------------ driving

    def send(self, events: dict[str, typing.Any] | list[dict[str, typing.Any]]) -> list[str]:
        """Send events as if they came through the Event API."""
        return self.engine.ingest(events if isinstance(events, list) else [events])

    def reset(self) -> None:
        """Between tests sharing one double: drop events and runs, keep the registered functions."""
        self.engine.reset()

    def wait_idle(self, timeout: float = 10.0, *, raise_on_timeout: bool = True) -> bool:
        """Block until nothing is in flight or due now; only future sleeps,
        waits, timeouts, throttle slots and retry delays may remain."""
        deadline = time.monotonic() + timeout
        cond = self.engine._cond
        with cond:
            while not self.engine.is_idle():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    if raise_on_timeout:
                        raise TimeoutError(
                            f"inngest double not idle after {timeout}s: {self._busy_summary()}"
                        )
                    return False
                cond.wait(min(remaining, 0.05))
        return True

    def advance(self, seconds: float, *, timeout: float = 10.0) -> float:
        """Move the virtual clock, firing everything that falls due on the way in
        time order (a run resumed at +5 min can sleep again and fire before +24 h)."""
        target = self.now() + seconds
        self.wait_idle(timeout)
        while True:
            due = self.engine.next_due()
            if due is None or due > target:
                break
            self.clock.set(due)
            self.wait_idle(timeout)
        self.clock.set(target)
        self.wait_idle(timeout)
        return self.now()

    def trigger_cron(self, fn_id_suffix: str) -> Run | None:
        """Start a run of a cron function with `inngest/scheduled.timer`."""
        return self.engine.trigger_cron(self.function(fn_id_suffix))

    def cancel(self, run: Run) -> None:
        with self.engine._cond:
            self.engine.cancel(run, "cancelled by test")

    def sync(self, app_serve_url: str, timeout: float = 10.0) -> dict[str, typing.Any]:
        """PUT the app's serve URL so the SDK registers with this double."""
        body = b""
        headers = {"X-Inngest-Server-Kind": self.engine.server_kind}
        if self.signing_key:
            headers["X-Inngest-Signature"] = sup.sign(body, self.signing_key)
        resp = httpx.put(app_serve_url, content=body, headers=headers, timeout=timeout)
        try:
            answer = resp.json()
        except ValueError:
            answer = {"error": resp.text}
        if (
            resp.status_code != 200
            or not isinstance(answer, dict)
            or "error" in answer
            or answer.get("code")
        ):
            raise RuntimeError(f"sync of {app_serve_url} failed ({resp.status_code}): {answer}")
        return answer

    def _busy_summary(self) -> str:
        active = [f"{r.fn_id}:{r.status}" for r in self.runs if not r.done]
        engine = self.engine
        return (
            f"inflight={engine._inflight} next_due={engine.next_due()} "
            f"now={self.now()} active={active}"
        )
