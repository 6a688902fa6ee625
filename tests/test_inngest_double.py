"""Tests of the Inngest server double against the real SDK over real HTTP."""

from __future__ import annotations

import datetime
import pathlib
import secrets
import socket
import subprocess
import sys
import threading
import time
import typing

import flask
import httpx
import inngest
import inngest.flask
import pytest
from werkzeug.serving import make_server

from tests.fakes.inngest_double import InngestDouble, hash_step_id

SIGNING_KEY = "signkey-test-" + "ab" * 32
EVENT_KEY = "test-event-key"


# ---------------------------------------------------------------- app under test


def build_functions(client: inngest.Inngest) -> list[inngest.Function[typing.Any]]:
    fns: list[inngest.Function[typing.Any]] = []

    def register(**kwargs: typing.Any) -> typing.Callable[..., typing.Any]:
        def wrap(handler: typing.Callable[..., typing.Any]) -> typing.Any:
            fn = client.create_function(**kwargs)(handler)
            fns.append(fn)
            return fn

        return wrap

    @register(fn_id="wait-fn", trigger=inngest.TriggerEvent(event="test/wait.start"))
    def wait_fn(ctx: inngest.ContextSync) -> object:
        ctx.step.run("prepare", lambda: "ready")
        approval = ctx.step.wait_for_event(
            "approval",
            event="test/approval",
            if_exp="event.data.actionId == async.data.actionId",
            timeout=datetime.timedelta(hours=24),
        )
        return {"approved_by": approval.data.get("by")} if approval else "timed out"

    @register(fn_id="sleep-fn", trigger=inngest.TriggerEvent(event="test/sleep"))
    def sleep_fn(ctx: inngest.ContextSync) -> object:
        ctx.step.sleep("nap", datetime.timedelta(minutes=5))
        return ctx.step.run("after-nap", lambda: "woke")

    @register(fn_id="child-fn", trigger=inngest.TriggerEvent(event="test/child.never"))
    def child_fn(ctx: inngest.ContextSync) -> object:
        return {"double": ctx.event.data["n"] * 2, "trigger": ctx.event.name}

    @register(fn_id="parent-fn", trigger=inngest.TriggerEvent(event="test/parent"))
    def parent_fn(ctx: inngest.ContextSync) -> object:
        return ctx.step.invoke("call-child", function=child_fn, data={"n": ctx.event.data["n"]})

    @register(fn_id="flaky-fn", trigger=inngest.TriggerEvent(event="test/flaky"), retries=2)
    def flaky_fn(ctx: inngest.ContextSync) -> object:
        def flaky() -> str:
            if ctx.attempt == 0:
                raise RuntimeError("first attempt fails")
            return f"ok on attempt {ctx.attempt}"

        return ctx.step.run("flaky", flaky)

    @register(fn_id="doomed-fn", trigger=inngest.TriggerEvent(event="test/doomed"), retries=1)
    def doomed_fn(ctx: inngest.ContextSync) -> object:
        def doomed() -> None:
            raise ValueError("always broken")

        return ctx.step.run("doomed", doomed)

    @register(fn_id="fatal-fn", trigger=inngest.TriggerEvent(event="test/fatal"), retries=3)
    def fatal_fn(ctx: inngest.ContextSync) -> object:
        def fatal() -> None:
            raise inngest.NonRetriableError("do not retry me")

        return ctx.step.run("fatal", fatal)

    @register(
        fn_id="throttled-fn",
        trigger=inngest.TriggerEvent(event="test/throttled"),
        throttle=inngest.Throttle(
            limit=1, period=datetime.timedelta(seconds=10), key="event.data.key"
        ),
    )
    def throttled_fn(ctx: inngest.ContextSync) -> object:
        return ctx.event.data["n"]

    @register(fn_id="plain-fn", trigger=inngest.TriggerEvent(event="test/plain"))
    def plain_fn(ctx: inngest.ContextSync) -> object:
        return ctx.event.data

    @register(
        fn_id="idem-fn",
        trigger=inngest.TriggerEvent(event="test/order"),
        idempotency="event.data.orderId",
    )
    def idem_fn(ctx: inngest.ContextSync) -> object:
        return ctx.event.data["orderId"]

    @register(
        fn_id="cancel-fn",
        trigger=inngest.TriggerEvent(event="test/cancellable"),
        cancel=[inngest.Cancel(event="test/cancel", if_exp="event.data.id == async.data.id")],
    )
    def cancel_fn(ctx: inngest.ContextSync) -> object:
        return ctx.step.wait_for_event(
            "forever", event="test/never", timeout=datetime.timedelta(hours=1)
        )

    @register(fn_id="sender-fn", trigger=inngest.TriggerEvent(event="test/sender"))
    def sender_fn(ctx: inngest.ContextSync) -> object:
        ids = ctx.step.send_event(
            "emit", inngest.Event(name="test/emitted", data={"from": "sender"})
        )
        ctx.step.run("after-1", lambda: 1)
        ctx.step.sleep("pause", datetime.timedelta(seconds=30))
        ctx.step.run("after-2", lambda: 2)
        return ids

    @register(fn_id="cron-fn", trigger=inngest.TriggerCron(cron="0 * * * *"))
    def cron_fn(ctx: inngest.ContextSync) -> object:
        return {"name": ctx.event.name, "cron": ctx.event.data.get("cron")}

    @register(
        fn_id="serial-fn",
        trigger=inngest.TriggerEvent(event="test/serial"),
        concurrency=[inngest.Concurrency(limit=1, key="event.data.key")],
    )
    def serial_fn(ctx: inngest.ContextSync) -> object:
        def work() -> list[float]:
            start = time.monotonic()
            time.sleep(0.2)
            return [start, time.monotonic()]

        return ctx.step.run("work", work)

    @register(fn_id="parallel-fn", trigger=inngest.TriggerEvent(event="test/parallel"))
    def parallel_fn(ctx: inngest.ContextSync) -> object:
        parts = ctx.group.parallel(
            (lambda: ctx.step.run("left", lambda: 1), lambda: ctx.step.run("right", lambda: 2))
        )
        return ctx.step.run("sum", lambda: sum(parts))

    @register(fn_id="later-fn", trigger=inngest.TriggerEvent(event="test/later"), retries=1)
    def later_fn(ctx: inngest.ContextSync) -> object:
        if ctx.attempt == 0:
            raise inngest.RetryAfterError("busy", datetime.timedelta(seconds=60))
        return "done later"

    return fns


class AppServer:
    """A Flask app served by werkzeug on a real port, registered with the double."""

    def __init__(self, client: inngest.Inngest):
        self.client = client
        app = flask.Flask("double-test")
        inngest.flask.serve(app, client, build_functions(client))
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.serve_url = f"http://127.0.0.1:{self._server.server_port}/api/inngest"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def double() -> typing.Iterator[InngestDouble]:
    with InngestDouble() as d:
        yield d


@pytest.fixture
def app(double: InngestDouble) -> typing.Iterator[AppServer]:
    client = inngest.Inngest(
        app_id="double-test",
        is_production=False,
        api_base_url=double.url,
        event_api_base_url=double.url,
    )
    server = AppServer(client)
    double.sync(server.serve_url)
    yield server
    server.close()
    assert double.protocol_errors == []


def only_run(double: InngestDouble, suffix: str) -> typing.Any:
    runs = double.runs_for(suffix)
    assert len(runs) == 1, [r.to_dict() for r in runs]
    return runs[0]


# ---------------------------------------------------------------- sync


def test_sync_registers_functions_with_their_config(double: InngestDouble, app: AppServer) -> None:
    fn = double.function("double-test-throttled-fn")
    assert fn.triggers == [{"event": "test/throttled"}]
    assert fn.throttle == {"limit": 1, "period": "10s", "key": "event.data.key", "burst": 1}
    assert fn.url.startswith(app.serve_url) and "fnId=double-test-throttled-fn" in fn.url
    assert double.function("flaky-fn").retries == 2
    assert double.function("plain-fn").retries == 4  # server default
    assert double.function("cancel-fn").cancel == [
        {"event": "test/cancel", "if": "event.data.id == async.data.id"}
    ]
    assert double.function("cron-fn").cron == "0 * * * *"
    assert double.register_requests[0]["body"]["appname"] == "double-test"


def test_register_rejects_invalid_expression(double: InngestDouble) -> None:
    body = {
        "appname": "bad",
        "url": "http://x",
        "functions": [
            {
                "id": "bad-fn",
                "triggers": [{"event": "e", "expression": "event.data."}],
                "steps": {
                    "step": {"runtime": {"url": "http://127.0.0.1:1/api?fnId=bad-fn&stepId=step"}}
                },
            }
        ],
    }
    resp = httpx.post(f"{double.url}/fn/register", json=body)
    assert resp.status_code == 400 and "invalid expression" in resp.json()["error"]


def test_unknown_endpoints_are_404(double: InngestDouble) -> None:
    assert httpx.get(f"{double.url}/v0/connect").status_code == 404
    assert httpx.get(f"{double.url}/dev").json()["version"] == "inngest-double"


# ---------------------------------------------------------------- waits, sleeps, invoke


def test_wait_resumed_only_by_matching_action_id_sent_after_registration(
    double: InngestDouble, app: AppServer
) -> None:
    # The approval sent in the same batch, before the run exists, is lost to the wait.
    app.client.send_sync(
        [
            inngest.Event(name="test/approval", data={"actionId": "act_1", "by": "early"}),
            inngest.Event(name="test/wait.start", data={"actionId": "act_1"}),
        ]
    )
    double.wait_idle()
    run = only_run(double, "wait-fn")
    assert run.status == "waiting"
    assert run.step_output("prepare") == "ready"
    assert run.pending["if"] == "event.data.actionId == async.data.actionId"

    app.client.send_sync(
        inngest.Event(name="test/approval", data={"actionId": "act_2", "by": "wrong"})
    )
    double.wait_idle()
    assert run.status == "waiting"

    app.client.send_sync(
        inngest.Event(name="test/approval", data={"actionId": "act_1", "by": "alice"})
    )
    double.wait_idle()
    assert run.status == "completed"
    assert run.output == {"approved_by": "alice"}
    assert run.memo("approval")["data"]["by"] == "alice"


def test_wait_times_out_to_none_after_advance(double: InngestDouble, app: AppServer) -> None:
    double.send({"name": "test/wait.start", "data": {"actionId": "act_9"}})
    double.wait_idle()
    run = only_run(double, "wait-fn")
    double.advance(23 * 3600)
    assert run.status == "waiting"
    double.advance(3600)
    assert run.status == "completed"
    assert run.output == "timed out"
    assert run.memo("approval") is None


def test_sleep_resumes_after_advance(double: InngestDouble, app: AppServer) -> None:
    double.send({"name": "test/sleep", "data": {}})
    double.wait_idle()
    run = only_run(double, "sleep-fn")
    assert run.status == "sleeping" and run.ops == ["Sleep"]
    double.advance(60)
    assert run.status == "sleeping"
    double.advance(5 * 60)
    assert run.status == "completed" and run.output == "woke"
    assert run.ops == ["Sleep", "StepRun"]


def test_invoke_returns_child_output(double: InngestDouble, app: AppServer) -> None:
    double.send({"name": "test/parent", "data": {"n": 21}})
    double.wait_idle()
    parent, child = only_run(double, "parent-fn"), only_run(double, "child-fn")
    assert child.event["name"] == "inngest/function.invoked"
    assert child.output == {"double": 42, "trigger": "inngest/function.invoked"}
    assert parent.status == "completed" and parent.output == {
        "double": 42,
        "trigger": "inngest/function.invoked",
    }
    assert parent.memo("call-child") == {"data": child.output}


# ---------------------------------------------------------------- retries


def test_failing_step_succeeds_on_second_attempt(double: InngestDouble, app: AppServer) -> None:
    double.send({"name": "test/flaky", "data": {}})
    double.wait_idle()
    run = only_run(double, "flaky-fn")
    assert run.status == "completed" and run.output == "ok on attempt 1"
    assert [a["attempt"] for a in run.attempts] == [0, 1, 0]
    assert run.ops == ["StepError", "StepRun"]


def test_step_exhausting_retries_fails_the_run(double: InngestDouble, app: AppServer) -> None:
    double.send({"name": "test/doomed", "data": {}})
    double.wait_idle()
    run = only_run(double, "doomed-fn")
    assert run.status == "failed"
    assert run.ops == ["StepError", "StepFailed"]  # retries=1: two attempts
    assert run.memo("doomed")["error"]["message"] == "always broken"
    assert "always broken" in run.error["message"]
    assert any(e["name"] == "inngest/function.failed" for e in double.internal_events)


def test_non_retriable_error_stops_retries(double: InngestDouble, app: AppServer) -> None:
    double.send({"name": "test/fatal", "data": {}})
    double.wait_idle()
    run = only_run(double, "fatal-fn")
    assert run.status == "failed"
    assert len(run.attempts) == 1
    assert run.error["name"] == "NonRetriableError"


# ---------------------------------------------------------------- flow control


def test_throttle_queues_same_key_and_lets_other_keys_run(
    double: InngestDouble, app: AppServer
) -> None:
    double.send([{"name": "test/throttled", "data": {"key": "A", "n": i}} for i in (1, 2, 3)])
    double.send({"name": "test/throttled", "data": {"key": "B", "n": 4}})
    double.wait_idle()
    by_n = {r.event["data"]["n"]: r for r in double.runs_for("throttled-fn")}
    # limit=1 with the default burst=1 admits two runs of a key at once.
    assert [by_n[n].status for n in (1, 2, 3, 4)] == [
        "completed",
        "completed",
        "queued",
        "completed",
    ]
    double.advance(9)
    assert by_n[3].status == "queued"
    double.advance(1)
    assert by_n[3].status == "completed" and by_n[3].output == 3


def test_concurrency_limit_serialises_runs_per_key(double: InngestDouble, app: AppServer) -> None:
    double.send([{"name": "test/serial", "data": {"key": "same"}} for _ in range(2)])
    double.send({"name": "test/serial", "data": {"key": "other"}})
    double.wait_idle()
    runs = double.runs_for("serial-fn")
    same = sorted((r.output for r in runs if r.event["data"]["key"] == "same"), key=lambda w: w[0])
    other = next(r.output for r in runs if r.event["data"]["key"] == "other")
    assert same[0][1] <= same[1][0]  # no overlap for one key
    assert other[0] < same[0][1] or other[0] < same[1][1]  # the other key ran alongside


def test_event_id_dedup_starts_one_run(double: InngestDouble, app: AppServer) -> None:
    for _ in range(3):
        app.client.send_sync(inngest.Event(id="evt-123", name="test/plain", data={"x": 1}))
    double.wait_idle()
    assert len(double.runs_for("plain-fn")) == 1
    assert len(double.duplicate_events) == 2
    assert len(double.events_named("test/plain")) == 3


def test_idempotency_key_blocks_second_run_for_24h(double: InngestDouble, app: AppServer) -> None:
    double.send([{"name": "test/order", "data": {"orderId": "o1"}} for _ in range(2)])
    double.wait_idle()
    assert len(double.runs_for("idem-fn")) == 1
    assert double.skipped[0]["reason"] == "idempotency"
    double.advance(24 * 3600)
    double.send({"name": "test/order", "data": {"orderId": "o1"}})
    double.wait_idle()
    assert len(double.runs_for("idem-fn")) == 2


def test_cancel_on_matching_event(double: InngestDouble, app: AppServer) -> None:
    double.send([{"name": "test/cancellable", "data": {"id": i}} for i in ("c1", "c2")])
    double.wait_idle()
    double.send({"name": "test/cancel", "data": {"id": "c1"}})
    double.wait_idle()
    status = {r.event["data"]["id"]: r.status for r in double.runs_for("cancel-fn")}
    assert status == {"c1": "cancelled", "c2": "waiting"}


def test_step_send_event_is_received_once_across_replays(
    double: InngestDouble, app: AppServer
) -> None:
    double.send({"name": "test/sender", "data": {}})
    double.wait_idle()
    double.advance(30)
    run = only_run(double, "sender-fn")
    assert run.status == "completed"
    assert len(run.attempts) >= 4  # replayed several times
    emitted = double.events_named("test/emitted")
    assert len(emitted) == 1 and emitted[0]["data"] == {"from": "sender"}
    assert run.output == [emitted[0]["id"]]
    assert run.steps[hash_step_id("emit")] == {"data": [emitted[0]["id"]]}


def test_trigger_cron_uses_scheduled_timer_event(double: InngestDouble, app: AppServer) -> None:
    run = double.trigger_cron("cron-fn")
    double.wait_idle()
    assert run is not None and run.status == "completed"
    assert run.output == {"name": "inngest/scheduled.timer", "cron": "0 * * * *"}


def test_inspection_api(double: InngestDouble, app: AppServer) -> None:
    httpx.post(f"{double.url}/e/NO_EVENT_KEY_SET", json={"name": "test/sleep", "data": {}})
    state = httpx.post(f"{double.url}/_double/wait-idle", json={"timeout": 5}).json()
    assert state["idle"] and state["runs"][0]["status"] == "sleeping"
    httpx.post(f"{double.url}/_double/advance", json={"seconds": 300})
    runs = httpx.get(f"{double.url}/_double/runs").json()["runs"]
    assert runs[0]["status"] == "completed" and runs[0]["output"] == "woke"
    assert httpx.get(f"{double.url}/_double/events").json()["events"][0]["name"] == "test/sleep"


# ---------------------------------------------------------------- cloud mode


@pytest.fixture
def cloud() -> typing.Iterator[tuple[InngestDouble, AppServer]]:
    with InngestDouble(signing_key=SIGNING_KEY, event_key=EVENT_KEY) as d:
        client = inngest.Inngest(
            app_id="double-test",
            is_production=True,
            signing_key=SIGNING_KEY,
            event_key=EVENT_KEY,
            api_base_url=d.url,
            event_api_base_url=d.url,
        )
        server = AppServer(client)
        d.sync(server.serve_url)
        yield d, server
        server.close()


def test_cloud_mode_signed_calls_are_accepted(cloud: tuple[InngestDouble, AppServer]) -> None:
    d, server = cloud
    assert d.register_requests[0]["headers"]["authorization"].startswith("Bearer ")
    server.client.send_sync(inngest.Event(name="test/parent", data={"n": 2}))
    d.wait_idle()
    assert only_run(d, "parent-fn").output == {"double": 4, "trigger": "inngest/function.invoked"}
    assert d.protocol_errors == []  # the SDK's response signatures verified too


def test_cloud_mode_app_rejects_unsigned_calls(cloud: tuple[InngestDouble, AppServer]) -> None:
    _, server = cloud
    resp = httpx.post(f"{server.serve_url}?fnId=double-test-plain-fn&stepId=step", json={})
    assert resp.status_code == 401


def test_cloud_mode_refuses_wrong_keys(cloud: tuple[InngestDouble, AppServer]) -> None:
    d, server = cloud
    wrong = inngest.Inngest(
        app_id="double-test",
        is_production=True,
        signing_key=SIGNING_KEY,
        event_key="wrong-key",
        event_api_base_url=d.url,
        api_base_url=d.url,
    )
    with pytest.raises(Exception, match="Event key not found"):
        wrong.send_sync(inngest.Event(name="test/plain", data={}))
    assert d.events == []
    bogus = "Bearer " + secrets.token_hex(32)
    resp = httpx.post(
        f"{d.url}/fn/register", json={"appname": "x"}, headers={"Authorization": bogus}
    )
    assert resp.status_code == 401


# ---------------------------------------------------------------- more protocol


def test_parallel_steps_are_planned_then_targeted(double: InngestDouble, app: AppServer) -> None:
    double.send({"name": "test/parallel", "data": {}})
    double.wait_idle()
    run = only_run(double, "parallel-fn")
    assert run.status == "completed" and run.output == 3
    targets = [a["target"] for a in run.attempts]
    assert set(targets[1:3]) == {hash_step_id("left"), hash_step_id("right")}
    assert run.ops.count("StepPlanned") == 3  # left, right, then "sum" (immediate execution off)


def test_retry_after_is_honoured_on_the_virtual_clock(
    double: InngestDouble, app: AppServer
) -> None:
    double.send({"name": "test/later", "data": {}})
    double.wait_idle()
    run = only_run(double, "later-fn")
    assert run.status == "running" and len(run.attempts) == 1
    double.advance(58)
    assert len(run.attempts) == 1
    double.advance(2)
    assert run.status == "completed" and run.output == "done later"


def test_standalone_cli_serves_inspection_api() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = pathlib.Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.inngest_double", "--port", str(port)],
        cwd=root,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/health")
                break
            except httpx.TransportError:
                time.sleep(0.05)
        resp = httpx.post(f"{base}/e/NO_EVENT_KEY_SET", json=[{"name": "demo/ping", "data": {}}])
        assert resp.json()["status"] == 200
        assert [e["name"] for e in httpx.get(f"{base}/_double/events").json()["events"]] == [
            "demo/ping"
        ]
        before = httpx.post(f"{base}/_double/wait-idle", json={"timeout": 2}).json()["now"]
        after = httpx.post(f"{base}/_double/advance", json={"seconds": 3600}).json()["now"]
        assert round(after - before) == 3600
        assert httpx.get(f"{base}/_double/runs").json() == {"runs": []}
    finally:
        proc.terminate()
        proc.wait(timeout=5)
