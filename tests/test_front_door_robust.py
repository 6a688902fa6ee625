"""The Front door under poison input, oversized messages, a hung Inngest and duplicate deliveries
(issue 10, items 2-5), over real HTTP against the Inngest double and the loopback fakes."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import (
    FrontFake,
    front_signature,
    inbound_event,
    post_all,
    signed_webhook,
)
from tests.fakes.slack import sign as slack_sign
from tests.support_server import LiveServer
from tests.test_front_door import INBOX, _ends_turn, _serve_door, inbound, post
from tests.world import ANTHROPIC_KEY, FRONT_SECRET, FRONT_TOKEN, SLACK_SECRET, live_app, settings


@dataclass
class Fakes:
    front: FrontFake
    claude: AnthropicFake


@pytest.fixture
def fakes() -> Iterator[Fakes]:
    with (
        FrontFake(FRONT_TOKEN) as front,
        AnthropicFake(ANTHROPIC_KEY, responder=_ends_turn) as claude,
    ):
        front.add_inbox(INBOX)
        yield Fakes(front, claude)


@pytest.fixture
def door(clean_db: str, inngest: Any, fakes: Fakes) -> Iterator[tuple[LiveServer, Any]]:
    env = settings(
        clean_db,
        INNGEST_BASE_URL=inngest.url,
        FRONT_API_BASE_URL=fakes.front.url,
        ANTHROPIC_BASE_URL=fakes.claude.url,
    )
    yield from _serve_door(env, inngest)


@pytest.fixture(autouse=True)
def no_hold_off() -> Iterator[None]:
    """A timed-out send holds further sends off for a few seconds, process-wide: never let one
    test's hung Inngest leak into the next."""
    from support import inngest_client

    inngest_client._hold_off_until = 0.0
    yield
    inngest_client._hold_off_until = 0.0


def _signed_raw(raw: bytes) -> tuple[bytes, dict[str, str]]:
    ts = str(int(time.time() * 1000))
    return raw, {
        "X-Front-Request-Timestamp": ts,
        "X-Front-Signature": front_signature(FRONT_SECRET, ts, raw),
    }


# ---------------------------------------------------------------- poison input (item 2)

LONE_SURROGATE = "\ud83d broken"


def test_lone_surrogate_is_replaced_and_the_delivery_accepted(door: tuple[LiveServer, Any]) -> None:
    """JSON may escape a lone surrogate; UTF-8 cannot carry it. It used to make every send fail
    with UnicodeEncodeError, answered 503 (so Front redelivered it forever)."""
    server, inngest = door
    envelope = inbound("evt_poison")
    envelope["payload"]["target"]["data"]["text"] = LONE_SURROGATE
    envelope["payload"]["target"]["data"]["subject"] = "Re: \udc00"
    body, headers = signed_webhook(FRONT_SECRET, envelope)
    assert b"\\ud83d" in body, "the surrogate travels as a JSON escape, as Front would send it"
    answer = post(server, body, headers)
    assert answer.status_code == 200, answer.text
    inngest.wait_idle(timeout=60)
    [event] = inngest.events_named("front/inbound_received")
    assert event["data"]["messageBody"] == "\ufffd broken"
    assert event["data"]["subject"] == "Re: \ufffd"
    assert [r.status for r in inngest.runs_for("handle-inbound-message")] == ["completed"]


def _deep(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def test_json_nested_too_deep_is_400_on_the_front_door(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    for raw in (_deep(50_000), b"[" * 50_000 + b"]" * 50_000):
        answer = post(server, *_signed_raw(raw))
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "bad_json"
    assert inngest.events == []


def test_json_nested_too_deep_is_400_on_the_slack_door(clean_db: str) -> None:
    with live_app(settings(clean_db)) as server:
        deep = "[" * 50_000 + "]" * 50_000
        form = urllib.parse.urlencode({"payload": deep}).encode()
        for body, ctype in (
            (form, "application/x-www-form-urlencoded"),
            (deep.encode(), "application/json"),
        ):
            headers = {"Content-Type": ctype, **slack_sign(SLACK_SECRET, body)}
            answer = httpx.post(
                server.url + "/slack/events", content=body, headers=headers, timeout=10
            )
            assert answer.status_code == 400, answer.text


def test_overlong_id_is_a_bad_payload(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    body, headers = signed_webhook(FRONT_SECRET, inbound("e" * 5000))
    answer = post(server, body, headers)
    assert answer.status_code == 400 and answer.json()["error"] == "bad_payload"
    assert inngest.events == []


def test_database_down_answers_503_not_500(inngest: Any) -> None:
    """The inbox lookup cannot reach the database: retryable, so 503 and Front delivers again."""
    env = settings("mysql+pymysql://root@127.0.0.1:9/none", INNGEST_BASE_URL=inngest.url)
    with live_app(env) as server:
        body, headers = signed_webhook(FRONT_SECRET, inbound())
        answer = post(server, body, headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "database_unavailable"
        assert inngest.events == []


# ---------------------------------------------------------------- bounded events (item 3)

MESSAGE_CAP = 16 * 1024


def test_a_1mb_message_makes_a_bounded_event_and_the_run_reads_front(
    door: tuple[LiveServer, Any], fakes: Fakes
) -> None:
    """A 1 MB delivery (under MAX_BODY_BYTES) used to become a ~1 MB event, which Inngest Cloud
    refuses (256 KiB): a 503 loop. The event now carries 16 KiB of the text, says so, and the run
    reads the message from Front."""
    server, inngest = door
    front_text = "FROM FRONT: " + "é" * 400_000
    fakes.front.add_conversation(
        "cnv_1", INBOX, messages=[{"message_id": "msg_1", "text": front_text}]
    )
    envelope = inbound("evt_big")
    envelope["payload"]["target"]["data"]["text"] = "ü" * 140_000  # \u00fc: 6 bytes
    envelope["payload"]["target"]["data"]["subject"] = "S" * 50_000
    body, headers = signed_webhook(FRONT_SECRET, envelope)
    assert 800_000 < len(body) < 1_048_576
    answer = post(server, body, headers)
    assert answer.status_code == 200, answer.text
    inngest.wait_idle(timeout=60)
    [event] = inngest.events_named("front/inbound_received")
    size = len(json.dumps(event).encode())
    assert size < 64 * 1024, size
    data = event["data"]
    assert data["messageBodyTruncated"] is True
    assert len(data["messageBody"].encode()) <= MESSAGE_CAP
    assert data["messageBody"] == "ü" * (MESSAGE_CAP // 2)
    assert len(data["subject"].encode()) <= 1024
    [run] = inngest.runs_for("handle-inbound-message")
    assert run.status == "completed", run.error
    assert run.step_output("gather-context")["message"].startswith("FROM FRONT: éé")
    assert "FROM FRONT" in json.dumps(fakes.claude.last_request)
    assert inngest.refused_events == []


def test_small_message_is_carried_whole(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    body, headers = signed_webhook(FRONT_SECRET, inbound("evt_small"))
    assert post(server, body, headers).status_code == 200
    [event] = inngest.events_named("front/inbound_received")
    assert event["data"]["messageBody"] == "I was charged twice"
    assert "messageBodyTruncated" not in event["data"]


def test_the_double_refuses_events_over_256_kib_like_inngest(inngest: Any) -> None:
    url = f"{inngest.url}/e/any-key"
    small = [{"name": "test/x", "data": {"text": "a" * 200_000}}]
    big = [{"name": "test/x", "data": {"text": "a" * 270_000}}]
    assert httpx.post(url, json=small).status_code == 200
    answer = httpx.post(url, json=big)
    assert answer.status_code == 413 and answer.json()["status"] == 413
    assert len(inngest.events) == 1
    assert inngest.refused_events and inngest.refused_events[0] > 256 * 1024


def test_bounded_send_refuses_an_oversized_event_before_sending(inngest: Any) -> None:
    """Over the limit is EventRejected (a 4xx for the door), never EventNotSent (a 503 loop)."""
    import inngest as inngest_sdk

    from support import inngest_client
    from support.config import load

    inngest_client.configure(load(settings("sqlite://", INNGEST_BASE_URL=inngest.url)))
    event = inngest_sdk.Event(name="test/x", data={"text": "a" * 300_000}, id="big")
    with pytest.raises(inngest_client.EventRejected):
        inngest_client.send_bounded(event)
    assert inngest.events == []
    ok = inngest_sdk.Event(name="test/x", data={"text": "a" * 1000}, id="ok")
    assert inngest_client.send_bounded(ok) == ["ok"]


def test_work_after_an_answer_sends_without_taking_a_doors_send_slot(inngest: Any) -> None:
    """The send slots guard the web server's threads. A click's announcement runs on Bolt's
    listener executor after the answer (``from_door=False``): with every slot taken it still
    sends, and it never takes a slot a Front delivery would need."""
    import inngest as inngest_sdk

    from support import inngest_client
    from support.config import load

    inngest_client.configure(load(settings("sqlite://", INNGEST_BASE_URL=inngest.url)))
    inngest_client.set_send_slots(1)
    taken = inngest_client._slots
    assert taken.acquire(timeout=1)
    try:
        event = inngest_sdk.Event(name="test/x", data={}, id="door")
        with pytest.raises(inngest_client.EventNotSent, match="send slot"):
            inngest_client.send_bounded(event)
        after = inngest_sdk.Event(name="test/x", data={}, id="after")
        assert inngest_client.send_bounded(after, from_door=False) == ["after"]
    finally:
        taken.release()
        inngest_client.set_send_slots(inngest_client.SEND_SLOTS)
    assert [e["id"] for e in inngest.events] == ["after"]


# ---------------------------------------------------------------- bounded send (item 4)

FRONT_GIVES_UP = 5.0  # seconds Front waits for a webhook's answer (its contract, not a benchmark)


def test_hung_event_api_answers_503_within_fronts_5s_then_fails_fast(
    door: tuple[LiveServer, Any],
) -> None:
    """With the event API hanging, the SDK's send took ~28 s (5 tries x 5 s). Now one attempt is
    bounded, and while Inngest hangs the next deliveries do not even wait on it."""
    from support import inngest_client

    server, inngest = door
    inngest.hang_event_api(seconds=30)
    try:
        body, headers = signed_webhook(FRONT_SECRET, inbound("evt_hang"))
        answer = httpx.post(
            server.url + "/webhooks/front", content=body, headers=headers, timeout=FRONT_GIVES_UP
        )
        assert answer.status_code == 503 and answer.json()["error"] == "event_not_sent"
        assert inngest.hung_requests == 1
        again = httpx.post(
            server.url + "/webhooks/front", content=body, headers=headers, timeout=FRONT_GIVES_UP
        )
        assert again.status_code == 503
        assert inngest.hung_requests == 1, "held off: the second delivery did not wait on Inngest"
    finally:
        inngest.release_event_api()
    inngest_client._hold_off_until = 0.0  # as if the hold-off had passed
    # Front delivers again: accepted. The hung request was processed when released, so Inngest
    # saw the same event id twice and started one run (nothing lost, nothing doubled).
    assert post(server, body, headers).status_code == 200
    inngest.wait_idle(timeout=60)
    assert {e["id"] for e in inngest.events_named("front/inbound_received")} == {"evt_hang"}
    assert len(inngest.runs_for("handle-inbound-message")) == 1


def test_send_slots_leave_threads_for_slack(
    door: tuple[LiveServer, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every send slot waiting on a hung Inngest, more deliveries answer 503 at once instead
    of holding more threads, and the Slack door answers meanwhile."""
    from concurrent.futures import ThreadPoolExecutor

    from support import inngest_client
    from tests.fakes.slack import signed_event, url_verification_body

    server, inngest = door
    monkeypatch.setattr(inngest_client, "HOLD_OFF_SECONDS", 0.0)
    inngest_client.set_send_slots(2)
    inngest.hang_event_api(seconds=30)
    try:
        deliveries = [signed_webhook(FRONT_SECRET, inbound(f"evt_{i}")) for i in range(6)]
        with ThreadPoolExecutor(6) as pool:
            pending = post_all(pool, server.url + "/webhooks/front", deliveries, FRONT_GIVES_UP)
            inngest.wait_for_hung_request()
            body, headers = signed_event(SLACK_SECRET, url_verification_body("chal"))
            slack = httpx.post(
                server.url + "/slack/events", content=body, headers=headers, timeout=3
            )
            answers = [p.result() for p in pending]
        assert slack.status_code == 200 and "chal" in slack.text
        assert [a.status_code for a in answers] == [503] * 6
        assert 1 <= inngest.hung_requests <= 2, "never more sends waiting than slots"
    finally:
        inngest.release_event_api()
        inngest_client.set_send_slots(inngest_client.SEND_SLOTS)


# ---------------------------------------------------------------- one run per message (item 5)


def test_one_message_under_three_event_ids_starts_one_run(door: tuple[LiveServer, Any]) -> None:
    """Front may deliver the same message under several event ids (e.g. ``inbound`` and
    ``inbound_received``, or a re-sent rule): it used to start a run, and an approval request,
    for each."""
    server, inngest = door
    for event_id, kind in (
        ("evt_a", "inbound"),
        ("evt_b", "inbound_received"),
        ("evt_c", "inbound"),
    ):
        body, headers = signed_webhook(FRONT_SECRET, inbound(event_id, event_type=kind))
        assert post(server, body, headers).status_code == 200
    inngest.wait_idle(timeout=60)
    assert sorted(e["id"] for e in inngest.events_named("front/inbound_received")) == [
        "evt_a",
        "evt_b",
        "evt_c",
    ]
    runs = inngest.runs_for("handle-inbound-message")
    assert len(runs) == 1 and runs[0].status == "completed"
    skipped = [s for s in inngest.skipped if s["reason"] == "idempotency"]
    assert [s["key"] for s in skipped] == ["msg_1", "msg_1"]
    # Another message of the same conversation is a new run.
    other = inbound_event(
        "evt_d", "cnv_1", INBOX, "msg_2", "customer@example.com", "Refund please", "And again"
    )
    body, headers = signed_webhook(FRONT_SECRET, other)
    assert post(server, body, headers).status_code == 200
    inngest.advance(11)  # past the per-conversation throttle period
    inngest.wait_idle(timeout=60)
    assert len(inngest.runs_for("handle-inbound-message")) == 2
