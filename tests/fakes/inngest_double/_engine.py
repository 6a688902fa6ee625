"""The scheduler/executor: events in, runs out, driven on a virtual clock."""

from __future__ import annotations

import collections
import concurrent.futures
import heapq
import itertools
import json
import threading
import time
import typing

import httpx

from . import _support as sup
from ._model import Debounced, FunctionDef, Job, Run, Wait, duration_or_none

DAY = 24 * 3600.0
MAX_STEP_OUTPUT_BYTES = 4 * 1024 * 1024  # Inngest: "The limit for data returned by a step is 4MB"
Event = dict[str, typing.Any]


class Engine:
    """All state lives here and is guarded by one lock (`self._cond`)."""

    def __init__(
        self,
        *,
        signing_key: str | None,
        event_key: str | None,
        realtime: bool = False,  # the virtual clock also follows wall time
        retry_delay: float = 0.0,  # virtual seconds between retries
        workers: int = 8,  # function calls in flight at once
        call_timeout: float = 60.0,  # seconds a function call may take
    ) -> None:
        self.signing_key = signing_key
        self.event_key = event_key
        self.retry_delay = retry_delay
        self.clock = sup.VirtualClock(realtime=realtime)
        self.cel = sup.Cel()
        self._cond = threading.Condition(threading.RLock())
        self._seq = itertools.count()
        self.apps: dict[str, dict[str, typing.Any]] = {}
        self.functions: dict[str, FunctionDef] = {}
        self._events: list[Event] = []
        self.internal_events: list[Event] = []
        self.duplicate_events: list[Event] = []
        self.skipped: list[dict[str, typing.Any]] = []
        self.protocol_errors: list[str] = []
        self._runs: list[Run] = []
        self._waits: list[Wait] = []
        self._jobs: list[Job] = []
        self._seen_ids: dict[str, float] = {}
        self._idempotency: dict[tuple[str, str], float] = {}
        self._throttles: dict[str, sup.Gcra] = {}
        self._throttle_queues: dict[tuple[str, str], collections.deque[Run]] = {}
        self._rate_limits: dict[str, sup.Gcra] = {}
        self._debounces: dict[tuple[str, str], Debounced] = {}
        self._busy_keys: collections.Counter[str] = collections.Counter()
        self._inflight = 0
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
        self._http = httpx.Client(timeout=call_timeout)
        self._stopping = False
        # Event API fault injection (InngestDouble.hang_event_api) and refusals (413).
        self.hang_events = threading.Event()
        self.release_events = threading.Event()
        self.hang_seconds = 60.0
        self.hung_requests = 0
        self.refused_events: list[int] = []

    def reset(self) -> None:
        """Forget events, runs, waits and flow-control state; keep registered apps and functions.

        Call it only when idle (``wait_idle``): in-flight calls are not interrupted."""
        with self._cond:
            self._events.clear()
            self.internal_events.clear()
            self.duplicate_events.clear()
            self.skipped.clear()
            self.protocol_errors.clear()
            self._runs.clear()
            self._waits.clear()
            self._jobs.clear()
            self._seen_ids.clear()
            self._idempotency.clear()
            self._throttles.clear()
            self._throttle_queues.clear()
            self._rate_limits.clear()
            self._debounces.clear()
            self._busy_keys.clear()
            self._cond.notify_all()

    # ------------------------------------------------------------ basics

    @property
    def server_kind(self) -> str:
        return "cloud" if self.signing_key else "dev"

    def now(self) -> float:
        return self.clock.now()

    def _notify(self) -> None:
        self._cond.notify_all()

    # ------------------------------------------------------------ registration

    def register(self, body: dict[str, typing.Any]) -> tuple[int, dict[str, typing.Any]]:
        """Store an app and its functions; (status, JSON answer) like the server."""
        app = body.get("appname") or body.get("app_name")
        configs = body.get("functions")
        if not app or not isinstance(configs, list) or not configs:
            return 400, {"error": "appname and at least one function are required"}
        try:
            fns = [FunctionDef.from_config(cfg, app) for cfg in configs]
        except (KeyError, TypeError, ValueError) as err:
            return 400, {"error": f"invalid function config: {err}"}
        for fn in fns:
            for expr in fn.expressions():
                problem = self.cel.check(expr)
                if problem:
                    return 400, {"error": f"{fn.id}: {problem}"}
            if not fn.url:
                return 400, {"error": f"{fn.id}: missing steps.step.runtime.url"}
        with self._cond:
            old = {fid for fid, f in self.functions.items() if f.app == app}
            new = {fn.id: fn for fn in fns}
            modified = old != set(new) or any(
                self.functions[fid].raw != new[fid].raw for fid in old & set(new)
            )
            for fid in old - set(new):
                del self.functions[fid]
            self.functions.update(new)
            self.apps[app] = {"url": body.get("url"), "sdk": body.get("sdk"), "raw": body}
            self._throttles = {k: v for k, v in self._throttles.items() if k in self.functions}
        return 200, {"ok": True, "modified": modified}

    # ------------------------------------------------------------ events

    def ingest(self, raw_events: list[dict[str, typing.Any]]) -> list[str]:
        """Accept events as the Event API does; returns their ids."""
        with self._cond:
            ids = []
            for raw in raw_events:
                event = self._normalize_event(raw)
                ids.append(event["id"])
                self._events.append(event)
                if self._is_duplicate(event):
                    self.duplicate_events.append(event)
                    continue
                self._dispatch_event(event)
            self._notify()
            return ids

    def _normalize_event(self, raw: dict[str, typing.Any]) -> Event:
        event = dict(raw)
        event["data"] = dict(raw.get("data") or {})
        user_id = raw.get("id")
        event["id"] = str(user_id) if user_id else sup.new_ulid(self.now())
        event["_user_id"] = bool(user_id)
        event["ts"] = int(raw.get("ts") or 0) or self.clock.now_ms()
        return event

    def _is_duplicate(self, event: Event) -> bool:
        user_id = event.pop("_user_id")
        if not user_id:
            return False
        now = self.now()
        seen = self._seen_ids.get(event["id"])
        if seen is not None and now - seen < DAY:
            return True
        self._seen_ids[event["id"]] = now
        return False

    def _dispatch_event(self, event: Event) -> None:
        """Cancel, resume, then trigger: runs created by this event never see it."""
        self._cancel_matching(event)
        self._resume_waits(event)
        for fn in list(self.functions.values()):
            if any(
                self.cel.is_true(t.get("expression"), {"event": event})
                for t in fn.event_triggers(event["name"])
            ):
                self._schedule_new_run(fn, event)

    def _emit_internal(self, name: str, data: dict[str, typing.Any]) -> None:
        event = {
            "name": name,
            "data": data,
            "id": sup.new_ulid(self.now()),
            "ts": self.clock.now_ms(),
        }
        self.internal_events.append(event)
        self._dispatch_event(event)

    # ------------------------------------------------------------ run creation

    def _schedule_new_run(self, fn: FunctionDef, event: Event) -> None:
        if fn.debounce:
            self._debounce(fn, event)
        else:
            self._create_run(fn, event)

    def _debounce(self, fn: FunctionDef, event: Event) -> None:
        assert fn.debounce is not None
        key = (fn.id, self.cel.key(fn.debounce.get("key"), {"event": event}))
        now = self.now()
        period = duration_or_none(fn.debounce.get("period")) or 0.0
        timeout = duration_or_none(fn.debounce.get("timeout"))
        entry = self._debounces.get(key)
        if entry is None:
            self._debounces[key] = Debounced(fn, event, now, now + period)
            return
        entry.event = event
        entry.due = now + period if timeout is None else min(now + period, entry.first_at + timeout)

    def _create_run(
        self, fn: FunctionDef, event: Event, parent: tuple[Run, str] | None = None
    ) -> Run | None:
        if not self._passes_rate_limit(fn, event) or not self._passes_idempotency(fn, event):
            return None
        now = self.now()
        run = Run(run_id=sup.new_ulid(now), fn_id=fn.id, event=event, created_at=now, parent=parent)
        run.concurrency_keys = self._concurrency_keys(fn, event)
        run.log(now, kind="created", event=event["name"])
        self._runs.append(run)
        if fn.throttle:
            key = self.cel.key(fn.throttle.get("key"), {"event": event})
            run.pending = {"throttle": key}
            self._throttle_queues.setdefault((fn.id, key), collections.deque()).append(run)
        else:
            self._start(run)
        return run

    def _passes_rate_limit(self, fn: FunctionDef, event: Event) -> bool:
        if not fn.rate_limit:
            return True
        gcra = self._rate_limits.setdefault(
            fn.id,
            sup.Gcra(fn.rate_limit["limit"], duration_or_none(fn.rate_limit["period"]) or 1.0, 0),
        )
        key = self.cel.key(fn.rate_limit.get("key"), {"event": event})
        if gcra.try_take(key, self.now())[0]:
            return True
        self.skipped.append({"fn_id": fn.id, "reason": "rate_limit", "key": key, "event": event})
        return False

    def _passes_idempotency(self, fn: FunctionDef, event: Event) -> bool:
        if not fn.idempotency:
            return True
        key = (fn.id, self.cel.key(fn.idempotency, {"event": event}))
        now = self.now()
        seen = self._idempotency.get(key)
        if seen is not None and now - seen < DAY:
            self.skipped.append(
                {"fn_id": fn.id, "reason": "idempotency", "key": key[1], "event": event}
            )
            return False
        self._idempotency[key] = now
        return True

    def _concurrency_keys(self, fn: FunctionDef, event: Event) -> list[tuple[str, int]]:
        keys = []
        for c in fn.concurrency:
            scope = c.get("scope") or "fn"
            owner = fn.id if scope == "fn" else scope
            value = self.cel.key(c.get("key"), {"event": event})
            keys.append((f"{owner}|{c.get('key') or ''}|{value}", int(c["limit"])))
        return keys

    def _start(self, run: Run) -> None:
        run.status = "running"
        run.pending = None
        run.started_at = self.now()
        run.log(run.started_at, kind="started")
        self._push_call(run, None, 0)

    # ------------------------------------------------------------ job queue

    def _push_call(
        self, run: Run, target: str | None, attempt: int, due: float | None = None
    ) -> None:
        due = self.now() if due is None else due
        heapq.heappush(self._jobs, Job(due, next(self._seq), run, target, attempt))

    def _push_timer(self, run: Run, due: float, action: typing.Callable[[], None]) -> None:
        heapq.heappush(self._jobs, Job(due, next(self._seq), run, timer=action))

    def _release_throttled(self) -> bool:
        changed = False
        now = self.now()
        for (fn_id, key), queue in self._throttle_queues.items():
            fn = self.functions.get(fn_id)
            while queue and fn and fn.throttle:
                gcra = self._throttle_for(fn)
                head = queue[0]
                if head.done:
                    queue.popleft()
                    continue
                if not gcra.try_take(key, now)[0]:
                    break
                queue.popleft()
                self._start(head)
                changed = True
        return changed

    def _throttle_for(self, fn: FunctionDef) -> sup.Gcra:
        assert fn.throttle is not None
        gcra = self._throttles.get(fn.id)
        if gcra is None:
            period = duration_or_none(fn.throttle.get("period")) or 1.0
            burst = fn.throttle.get("burst")
            gcra = sup.Gcra(fn.throttle["limit"], period, 1 if burst is None else burst)
            self._throttles[fn.id] = gcra
        return gcra

    def _release_debounced(self) -> bool:
        now = self.now()
        due = [k for k, d in self._debounces.items() if d.due <= now]
        for key in due:
            entry = self._debounces.pop(key)
            self._create_run(entry.fn, entry.event)
        return bool(due)

    def tick(self) -> None:
        """Start everything that is due now. Called with the lock held."""
        changed = True
        while changed:
            changed = self._release_throttled() | self._release_debounced()
            changed |= self._dispatch_due_jobs()

    def _dispatch_due_jobs(self) -> bool:
        now = self.now()
        deferred, changed = [], False
        while self._jobs and self._jobs[0].due <= now:
            job = heapq.heappop(self._jobs)
            if job.run.done:
                continue
            if job.timer is not None:
                job.timer()
                changed = True
            elif job.run.busy or not self._has_slot(job.run):
                deferred.append(job)
            else:
                self._dispatch_call(job)
                changed = True
        for job in deferred:
            heapq.heappush(self._jobs, job)
        return changed

    def _has_slot(self, run: Run) -> bool:
        return all(self._busy_keys[key] < limit for key, limit in run.concurrency_keys)

    def next_due(self) -> float | None:
        """Earliest future time at which something becomes runnable."""
        with self._cond:
            times = [j.due for j in self._jobs if not j.run.done]
            times += [d.due for d in self._debounces.values()]
            now = self.now()
            for (fn_id, key), queue in self._throttle_queues.items():
                fn = self.functions.get(fn_id)
                if queue and fn and fn.throttle:
                    times.append(self._throttle_for(fn).next_allowed(key, now))
            return min(times) if times else None

    def is_idle(self) -> bool:
        """Nothing in flight and nothing due now (only future timers remain)."""
        with self._cond:
            self.tick()
            if self._inflight:
                return False
            due = self.next_due()
            return due is None or due > self.now()

    # ------------------------------------------------------------ calling the app

    def _dispatch_call(self, job: Job) -> None:
        run, fn = job.run, self.functions.get(job.run.fn_id)
        if fn is None:
            self._fail(run, {"name": "Error", "message": f"function {run.fn_id} is not registered"})
            return
        run.busy = True
        run.calls += 1
        run.attempt = job.attempt
        for key, _ in run.concurrency_keys:
            self._busy_keys[key] += 1
        self._inflight += 1
        body = self._call_body(run, fn, job)
        run.log(self.now(), kind="call", target=job.target or "step", attempt=job.attempt)
        self._pool.submit(self._call_app, job, fn.call_url(job.target), body)

    def _call_body(self, run: Run, fn: FunctionDef, job: Job) -> bytes:
        body = {
            "event": _wire_event(run.event),
            "events": [_wire_event(e) for e in run.events],
            "steps": dict(run.steps),
            "ctx": {
                "run_id": run.run_id,
                "attempt": job.attempt,
                "max_attempts": fn.max_attempts,
                "disable_immediate_execution": run.disable_immediate,
                "use_api": False,
                "fn_id": fn.id,
                "step_id": job.target or "step",
                "stack": {"stack": list(run.stack), "current": len(run.stack)},
            },
            "use_api": False,
            "version": 1,
        }
        return sup.canonical_json(body)

    def call_headers(self, body: bytes) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "inngest-double",
            "X-Inngest-Server-Kind": self.server_kind,
        }
        if self.signing_key:
            headers["X-Inngest-Signature"] = sup.sign(body, self.signing_key)
        return headers

    def _call_app(self, job: Job, url: str, body: bytes) -> None:
        try:
            resp = self._http.post(url, content=body, headers=self.call_headers(body))
            result: tuple[int, dict[str, str], bytes] | Exception = (
                resp.status_code,
                dict(resp.headers),
                resp.content,
            )
        except Exception as err:  # noqa: BLE001 - any transport error is a failed attempt
            result = err
        with self._cond:
            run = job.run
            run.busy = False
            for key, _ in run.concurrency_keys:
                self._busy_keys[key] -= 1
            self._inflight -= 1
            try:
                self._apply_result(job, result)
            except Exception as err:  # noqa: BLE001 - keep the driver alive, report it
                self.protocol_errors.append(f"{run.run_id}: {type(err).__name__}: {err}")
                self._fail(run, {"name": type(err).__name__, "message": str(err)})
            self.tick()
            self._notify()

    def _apply_result(
        self, job: Job, result: tuple[int, dict[str, str], bytes] | Exception
    ) -> None:
        run = job.run
        if run.done:
            run.log(self.now(), kind="ignored", reason=f"response after run {run.status}")
            return
        if isinstance(result, Exception):
            run.log(self.now(), kind="response", status=None, error=str(result))
            self._function_error(job, {"name": "ConnectError", "message": str(result)}, {})
            return
        status, headers, content = result
        headers = {k.lower(): v for k, v in headers.items()}
        self._check_response_signature(run, status, headers, content)
        try:
            payload = json.loads(content) if content else None
        except ValueError:
            payload = {"name": "Error", "message": content.decode("utf-8", "replace")}
        run.log(self.now(), kind="response", status=status)
        if status == 200:
            self._complete(run, payload)
        elif status == 206 and isinstance(payload, list):
            self._apply_ops(job, payload, headers.get("x-inngest-no-retry") == "true")
        else:
            error = (
                payload if isinstance(payload, dict) else {"name": "Error", "message": str(payload)}
            )
            self._function_error(job, error, headers)

    def _check_response_signature(
        self, run: Run, status: int, headers: dict[str, str], content: bytes
    ) -> None:
        if not self.signing_key or status == 401:
            return
        if not sup.verify(content, headers.get("x-inngest-signature"), self.signing_key):
            self.protocol_errors.append(f"{run.run_id}: response signature missing or invalid")

    # ------------------------------------------------------------ opcodes

    def _apply_ops(self, job: Job, ops: list[dict[str, typing.Any]], no_retry: bool) -> None:
        run = job.run
        discover = False
        for op in ops:
            step, code = op.get("id", ""), op.get("op")
            run.step_names[step] = op.get("displayName") or op.get("name") or step
            run.log(self.now(), op=code, step=run.step_names[step], id=step, attempt=job.attempt)
            handler = _OP_HANDLERS.get(code or "")
            if handler is None:
                self.protocol_errors.append(f"{run.run_id}: unsupported op {code!r}")
                self._fail(run, {"name": "Error", "message": f"unsupported op {code}"})
                return
            discover |= handler(self, job, op, no_retry)
        if discover and not run.planned and not run.done:
            self._push_call(run, None, 0)

    def _op_step_run(self, job: Job, op: dict[str, typing.Any], no_retry: bool) -> bool:
        size = len(json.dumps(op.get("data"), default=str).encode("utf-8", "replace"))
        if size > MAX_STEP_OUTPUT_BYTES:
            self._fail(
                job.run,
                {
                    "name": "OutputTooLarge",
                    "message": f"step output is {size} bytes, over the {MAX_STEP_OUTPUT_BYTES} limit",
                },
            )
            return False
        self._memoize(job.run, op["id"], {"data": op.get("data")})
        job.run.planned.discard(op["id"])
        return True

    def _op_planned(self, job: Job, op: dict[str, typing.Any], no_retry: bool) -> bool:
        run = job.run
        run.disable_immediate = True
        if op["id"] not in run.planned:
            run.planned.add(op["id"])
            self._push_call(run, op["id"], 0)
        return False

    def _op_sleep(self, job: Job, op: dict[str, typing.Any], no_retry: bool) -> bool:
        run, step = job.run, op["id"]
        # The SDK computes `name` from its own wall clock: keep the relative delay.
        due = self.now() + max(0.0, sup.parse_iso(op["name"]) - time.time())
        run.status, run.pending = "sleeping", {"sleep": step, "until": due}

        def wake() -> None:
            self._resume(run, step, None)

        self._push_timer(run, due, wake)
        return False

    def _op_wait(self, job: Job, op: dict[str, typing.Any], no_retry: bool) -> bool:
        run, step, opts = job.run, op["id"], op.get("opts") or {}
        expires = self.now() + (duration_or_none(opts.get("timeout")) or DAY)
        wait = Wait(run, step, op["name"], opts.get("if"), expires)
        self._waits.append(wait)
        run.status = "waiting"
        run.pending = {"wait": step, "event": wait.event, "if": wait.if_exp, "expires_at": expires}

        def time_out() -> None:
            if wait in self._waits:
                self._waits.remove(wait)
                self._resume(run, step, None)

        self._push_timer(run, expires, time_out)
        return False

    def _op_invoke(self, job: Job, op: dict[str, typing.Any], no_retry: bool) -> bool:
        run, step, opts = job.run, op["id"], op.get("opts") or {}
        fn = self.functions.get(opts.get("function_id", ""))
        if fn is None:
            self._memoize(
                run,
                step,
                _error_memo("Error", f"could not find function {opts.get('function_id')}"),
            )
            return True
        payload = opts.get("payload") or {}
        data = dict(payload.get("data") or {})
        data["_inngest"] = {
            "source_fn_id": run.fn_id,
            "source_run_id": run.run_id,
            "invoke_step": step,
        }
        event = {
            "name": "inngest/function.invoked",
            "data": data,
            "id": sup.new_ulid(self.now()),
            "ts": self.clock.now_ms(),
        }
        if payload.get("v"):
            event["v"] = payload["v"]
        run.status, run.pending = "invoking", {"invoke": step, "function_id": fn.id}
        child = self._create_run(fn, event, parent=(run, step))
        if child is None:
            self._memoize(run, step, _error_memo("Error", "invoked function run was skipped"))
            return True
        run.pending["child_run_id"] = child.run_id
        timeout = duration_or_none(opts.get("timeout"))
        if timeout is not None:

            def time_out() -> None:
                if child.parent is not None and step not in run.steps:
                    child.parent = None
                    self._resume(
                        run,
                        step,
                        _error_memo(
                            "InngestInvokeTimeoutError",
                            "Timed out waiting for invoked function to complete",
                        ),
                    )

            self._push_timer(run, self.now() + timeout, time_out)
        return False

    def _op_step_error(self, job: Job, op: dict[str, typing.Any], no_retry: bool) -> bool:
        run, fn = job.run, self.functions[job.run.fn_id]
        if no_retry or job.attempt + 1 >= fn.max_attempts:
            return self._op_step_failed(job, op, no_retry)
        self._push_call(run, job.target, job.attempt + 1, self.now() + self.retry_delay)
        return False

    def _op_step_failed(self, job: Job, op: dict[str, typing.Any], no_retry: bool) -> bool:
        error = op.get("error") or {}
        self._memoize(
            job.run,
            op["id"],
            _error_memo(error.get("name"), error.get("message"), error.get("stack")),
        )
        job.run.planned.discard(op["id"])
        return True

    # ------------------------------------------------------------ run state changes

    def _memoize(self, run: Run, step: str, memo: object) -> None:
        run.steps[step] = memo
        if step not in run.stack:
            run.stack.append(step)

    def _resume(self, run: Run, step: str, memo: object) -> None:
        """A sleep/wait/invoke finished: store its memo and call the app again."""
        if run.done:
            return
        self._memoize(run, step, memo)
        run.status, run.pending = "running", None
        run.log(self.now(), kind="resumed", step=run.step_names.get(step, step))
        self._push_call(run, None, 0)

    def _function_error(
        self, job: Job, error: dict[str, typing.Any], headers: dict[str, str]
    ) -> None:
        run, fn = job.run, self.functions[job.run.fn_id]
        if headers.get("x-inngest-no-retry") == "true" or job.attempt + 1 >= fn.max_attempts:
            self._fail(run, error)
            return
        delay = self.retry_delay
        retry_after = sup.parse_retry_after(headers.get("retry-after"))
        if retry_after is not None:
            kind, value = retry_after
            delay = value if kind == "delay" else max(0.0, value - time.time())
        run.log(self.now(), kind="retry", attempt=job.attempt + 1, delay=delay)
        self._push_call(run, job.target, job.attempt + 1, self.now() + delay)

    def _finish(self, run: Run, status: str) -> None:
        run.status, run.pending = status, None
        run.finished_at = self.now()
        run.log(run.finished_at, kind=status)
        self._waits = [w for w in self._waits if w.run is not run]
        if run.parent is not None:
            parent, step = run.parent
            run.parent = None
            memo = (
                {"data": run.output}
                if status == "completed"
                else {"error": _clean_error(run.error)}
            )
            self._resume(parent, step, memo)

    def _complete(self, run: Run, output: object) -> None:
        run.output = output
        self._finish(run, "completed")
        self._emit_internal(
            "inngest/function.finished",
            {"function_id": run.fn_id, "run_id": run.run_id, "event": run.event, "result": output},
        )

    def _fail(self, run: Run, error: dict[str, typing.Any]) -> None:
        run.error = error
        self._finish(run, "failed")
        data = {"function_id": run.fn_id, "run_id": run.run_id, "event": run.event, "error": error}
        if not run.fn_id.endswith("-failure"):
            self._emit_internal("inngest/function.failed", data)
        self._emit_internal("inngest/function.finished", data)

    def cancel(self, run: Run, reason: str = "cancelled") -> None:
        if run.done:
            return
        run.error = {"name": "FunctionCancelled", "message": reason}
        self._finish(run, "cancelled")
        self._emit_internal(
            "inngest/function.cancelled",
            {"function_id": run.fn_id, "run_id": run.run_id, "event": run.event},
        )

    def _cancel_matching(self, event: Event) -> None:
        now = self.now()
        for run in [r for r in self._runs if not r.done]:
            fn = self.functions.get(run.fn_id)
            for rule in fn.cancel if fn else []:
                if rule.get("event") != event["name"]:
                    continue
                timeout = duration_or_none(rule.get("timeout"))
                if timeout is not None and now > run.created_at + timeout:
                    continue
                if self.cel.is_true(rule.get("if"), {"event": run.event, "async": event}):
                    self.cancel(run, f"cancelled by event {event['name']} ({event['id']})")
                    break

    def _resume_waits(self, event: Event) -> None:
        for wait in list(self._waits):
            if wait.run.done or wait.event != event["name"]:
                continue
            if self.cel.is_true(wait.if_exp, {"event": wait.run.event, "async": event}):
                self._waits.remove(wait)
                self._resume(wait.run, wait.step, _wire_event(event))

    # ------------------------------------------------------------ direct triggers

    def trigger_cron(self, fn: FunctionDef) -> Run | None:
        with self._cond:
            event = {
                "name": "inngest/scheduled.timer",
                "data": {"cron": fn.cron or ""},
                "id": sup.new_ulid(self.now()),
                "ts": self.clock.now_ms(),
            }
            run = self._create_run(fn, event)
            self._notify()
            return run

    # ------------------------------------------------------------ snapshots

    def snapshot_events(self) -> list[Event]:
        with self._cond:
            return list(self._events)

    def snapshot_runs(self) -> list[Run]:
        with self._cond:
            return list(self._runs)

    def find_run(self, run_id: str) -> Run | None:
        with self._cond:
            return next((r for r in self._runs if r.run_id == run_id), None)

    def shutdown(self) -> None:
        self._stopping = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()


def _wire_event(event: Event) -> Event:
    """The event as the SDK's strict model accepts it (string id, int ts)."""
    wire = {k: v for k, v in event.items() if not k.startswith("_")}
    wire["id"] = str(wire.get("id") or "")
    wire["ts"] = int(wire.get("ts") or 0)
    wire["data"] = wire.get("data") or {}
    return wire


def _error_memo(name: object, message: object, stack: object = None) -> dict[str, typing.Any]:
    error = {"name": str(name or "Error"), "message": str(message or "")}
    if isinstance(stack, str):
        error["stack"] = stack
    return {"error": error}


def _clean_error(error: dict[str, typing.Any] | None) -> dict[str, typing.Any]:
    error = error or {}
    return _error_memo(error.get("name"), error.get("message"), error.get("stack"))["error"]


_OP_HANDLERS: dict[str, typing.Callable[[Engine, Job, dict[str, typing.Any], bool], bool]] = {
    "StepRun": Engine._op_step_run,
    "StepPlanned": Engine._op_planned,
    "Sleep": Engine._op_sleep,
    "WaitForEvent": Engine._op_wait,
    "InvokeFunction": Engine._op_invoke,
    "StepError": Engine._op_step_error,
    "StepFailed": Engine._op_step_failed,
}
