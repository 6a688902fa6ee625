"""The Front door over real HTTP: a signed inbound webhook becomes exactly one Inngest event and run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import (
    FrontFake,
    challenge_delivery,
    inbound_event,
    outbound_event,
    signed_webhook,
    sync_event,
)
from tests.support_server import LiveServer
from tests.world import ANTHROPIC_KEY, FRONT_SECRET, FRONT_TOKEN, live_app, make_app, settings

INBOX = "inb_acme"


def _ends_turn(request: dict[str, Any]) -> dict[str, Any]:
    """Claude answers with text only: the agent workflow ends without a draft or an action."""
    return {"content": [{"type": "text", "text": "Nothing to do."}], "stop_reason": "end_turn"}


@pytest.fixture
def door(clean_db: str, inngest: Any) -> Iterator[tuple[LiveServer, Any]]:
    # The agent workflow also runs on every inbound event: give it a Front and a Claude to talk to,
    # so its runs finish and do not bleed into the next test.
    with (
        FrontFake(FRONT_TOKEN) as front,
        AnthropicFake(ANTHROPIC_KEY, responder=_ends_turn) as claude,
    ):
        front.add_inbox(INBOX)
        env = settings(
            clean_db,
            INNGEST_BASE_URL=inngest.url,
            FRONT_API_BASE_URL=front.url,
            ANTHROPIC_BASE_URL=claude.url,
        )
        yield from _serve_door(env, inngest)


def _serve_door(settings: dict[str, str], inngest: Any) -> Iterator[tuple[LiveServer, Any]]:
    with live_app(settings) as server:
        inngest.sync(server.url + "/api/inngest")
        make_app("acme", name="Acme", front_inbox_id=INBOX)
        yield server, inngest
        inngest.wait_idle(timeout=30)


def post(server: LiveServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(server.url + "/webhooks/front", content=body, headers=headers, timeout=10)


def inbound(event_id: str = "evt_1", **kw: Any) -> dict[str, Any]:
    return inbound_event(
        event_id,
        "cnv_1",
        kw.pop("inbox", INBOX),
        "msg_1",
        "customer@example.com",
        "Refund please",
        "I was charged twice",
        **kw,
    )


def test_signed_inbound_becomes_one_event_and_one_run(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    body, headers = signed_webhook(FRONT_SECRET, inbound(reply_to="billing@example.com"))
    for _ in range(3):  # Front retries the same delivery: one event id, one run
        assert post(server, body, headers).status_code == 200
    inngest.wait_idle()
    received = inngest.events_named("front/inbound_received")
    assert len(received) == 3
    assert {e["id"] for e in received} == {"evt_1"}
    data = received[0]["data"]
    assert data["conversationId"] == "cnv_1"
    assert data["messageId"] == "msg_1"
    assert data["inboxId"] == INBOX
    assert data["frontEventId"] == "evt_1"
    assert data["customerEmail"] == "billing@example.com"
    runs = inngest.runs_for("handle-inbound-message")
    assert len(runs) == 1
    assert runs[0].status == "completed"
    assert runs[0].event["data"]["conversationId"] == "cnv_1"
    assert len(inngest.runs) == 1, "one delivery, one run: no other function listens to it"


def test_inbound_received_type_is_accepted(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    body, headers = signed_webhook(FRONT_SECRET, inbound("evt_2", event_type="inbound_received"))
    assert post(server, body, headers).status_code == 200
    inngest.wait_idle()
    assert [e["id"] for e in inngest.events_named("front/inbound_received")] == ["evt_2"]


def test_outbound_becomes_outbound_sent(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    envelope = outbound_event("evt_out", "cnv_1", INBOX, "msg_9", "c@x.com", "Re: hi", "done")
    body, headers = signed_webhook(FRONT_SECRET, envelope)
    assert post(server, body, headers).status_code == 200
    sent = inngest.events_named("front/outbound_sent")
    assert [(e["id"], e["data"]) for e in sent] == [
        ("evt_out", {"conversationId": "cnv_1", "messageId": "msg_9"})
    ]


def test_challenge_is_echoed_and_sync_acked(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    body, headers = challenge_delivery(FRONT_SECRET, "chal-123")
    answer = post(server, body, headers)
    assert answer.status_code == 200 and answer.text == "chal-123"
    body, headers = signed_webhook(FRONT_SECRET, sync_event())
    assert post(server, body, headers).json() == {"ok": True, "type": "sync"}
    assert inngest.events == []


def test_unknown_inbox_is_acknowledged_without_event(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    body, headers = signed_webhook(FRONT_SECRET, inbound(inbox="inb_nobody"))
    answer = post(server, body, headers)
    assert answer.status_code == 200 and answer.json()["ignored"] == "no app for inbox"
    assert inngest.events == []


def _stale(envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return signed_webhook(FRONT_SECRET, envelope, int(time.time() * 1000) - 6 * 60 * 1000)


def _future(envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return signed_webhook(FRONT_SECRET, envelope, int(time.time() * 1000) + 60 * 1000)


def _wrong_secret(envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return signed_webhook("not-the-secret", envelope)


def _unsigned(envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    return json.dumps(envelope).encode(), {"Content-Type": "application/json"}


def _tampered(envelope: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body, headers = signed_webhook(FRONT_SECRET, envelope)
    return body.replace(b"cnv_1", b"cnv_2"), headers


def _signed_raw(raw: bytes) -> tuple[bytes, dict[str, str]]:
    from tests.fakes.front import front_signature

    ts = str(int(time.time() * 1000))
    return raw, {
        "X-Front-Request-Timestamp": ts,
        "X-Front-Signature": front_signature(FRONT_SECRET, ts, raw),
    }


@pytest.mark.parametrize(
    ("make", "status", "error"),
    [
        (_stale, 401, "bad_signature"),
        (_future, 401, "bad_signature"),
        (_wrong_secret, 401, "bad_signature"),
        (_unsigned, 401, "bad_signature"),
        (_tampered, 401, "bad_signature"),
        (lambda e: _signed_raw(b"{not json"), 400, "bad_json"),
        (lambda e: _signed_raw(b"\xff\xfe"), 400, "bad_json"),
        (lambda e: _signed_raw(b"[]"), 400, "bad_payload"),
        (
            lambda e: _signed_raw(
                json.dumps({"type": "inbound", "payload": {"type": "inbound"}}).encode()
            ),
            400,
            "bad_payload",
        ),
    ],
)
def test_bad_deliveries_get_4xx_and_send_nothing(
    door: tuple[LiveServer, Any], make: Any, status: int, error: str
) -> None:
    server, inngest = door
    body, headers = make(inbound())
    answer = post(server, body, headers)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert inngest.events == []


def test_oversized_body_is_refused(clean_db: str, inngest: Any) -> None:
    with live_app(
        settings(clean_db, INNGEST_BASE_URL=inngest.url, MAX_BODY_BYTES="2048")
    ) as server:
        envelope = inbound()
        envelope["payload"]["target"]["data"]["text"] = "x" * 5000
        body, headers = signed_webhook(FRONT_SECRET, envelope)
        assert post(server, body, headers).status_code == 413
        assert inngest.events == []


def test_inngest_down_answers_503_so_front_retries(clean_db: str) -> None:
    with live_app(settings(clean_db, INNGEST_BASE_URL="http://127.0.0.1:9")) as server:
        make_app("acme", name="Acme", front_inbox_id=INBOX)
        body, headers = signed_webhook(FRONT_SECRET, inbound())
        answer = post(server, body, headers)
        assert answer.status_code == 503 and answer.json()["error"] == "event_not_sent"


def test_unconfigured_secret_answers_503(clean_db: str) -> None:
    env = settings(clean_db)
    del env["FRONT_WEBHOOK_SECRET"]
    with live_app(env) as server:
        answer = httpx.post(server.url + "/webhooks/front", content=b"{}")
        assert answer.status_code == 503 and "FRONT_WEBHOOK_SECRET" in answer.json()["detail"]


def test_health_and_readiness(clean_db: str) -> None:
    with live_app(settings(clean_db)) as server:
        assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
        assert httpx.get(server.url + "/readyz").status_code == 200


def test_readiness_fails_when_database_is_unreachable(tmp_path: Any) -> None:
    with live_app(settings("mysql+pymysql://root@127.0.0.1:9/none")) as server:
        assert httpx.get(server.url + "/healthz").status_code == 200
        answer = httpx.get(server.url + "/readyz", timeout=15)
        assert answer.status_code == 503 and answer.json()["database"] == "unreachable"
