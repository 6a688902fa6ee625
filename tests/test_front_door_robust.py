"""The Front door under poison input, oversized messages, a hung Inngest and duplicate deliveries
(issue 10, items 2-5), over real HTTP against the Inngest double and the loopback fakes."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import (
    ANTHROPIC_KEY,
    FRONT_SECRET,
    FRONT_TOKEN,
    SLACK_SECRET,
    base_settings,
    serve_app,
)
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import FrontFake, front_signature, signed_webhook
from tests.fakes.slack import sign as slack_sign
from tests.support_server import LiveServer
from tests.test_front_door import INBOX, _ends_turn, _serve_door, inbound, post


@pytest.fixture
def door(clean_db: str, inngest: Any) -> Iterator[tuple[LiveServer, Any]]:
    with (
        FrontFake(FRONT_TOKEN) as front,
        AnthropicFake(ANTHROPIC_KEY, responder=_ends_turn) as claude,
    ):
        front.add_inbox(INBOX)
        settings = base_settings(
            clean_db,
            INNGEST_BASE_URL=inngest.url,
            FRONT_API_BASE_URL=front.url,
            ANTHROPIC_BASE_URL=claude.url,
        )
        yield from _serve_door(settings, inngest)


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
    server = serve_app(base_settings(clean_db))
    try:
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
    finally:
        server.stop()


def test_overlong_id_is_a_bad_payload(door: tuple[LiveServer, Any]) -> None:
    server, inngest = door
    body, headers = signed_webhook(FRONT_SECRET, inbound("e" * 5000))
    answer = post(server, body, headers)
    assert answer.status_code == 400 and answer.json()["error"] == "bad_payload"
    assert inngest.events == []


def test_database_down_answers_503_not_500(inngest: Any) -> None:
    """The inbox lookup cannot reach the database: retryable, so 503 and Front delivers again."""
    settings = base_settings("mysql+pymysql://root@127.0.0.1:9/none", INNGEST_BASE_URL=inngest.url)
    server = serve_app(settings)
    try:
        body, headers = signed_webhook(FRONT_SECRET, inbound())
        answer = post(server, body, headers)
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "database_unavailable"
        assert inngest.events == []
    finally:
        server.stop()
