"""The Front webhook signature check and envelope parsing, without HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from support import front_webhook as fw

SECRET = "s3cret"
BODY = b'{"type":"inbound"}'
NOW = 1_764_000_000_000


def signature(ts: str, body: bytes = BODY, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_valid_signature_passes() -> None:
    ts = str(NOW - 1000)
    fw.verify(SECRET, BODY, ts, signature(ts), now_ms=NOW)


@pytest.mark.parametrize(
    ("ts", "sig", "why"),
    [
        (None, "x", "missing"),
        (str(NOW), None, "missing"),
        ("12.5", "x", "millisecond"),
        (str(NOW - 5 * 60 * 1000 - 1), "SIGN", "older"),
        (str(NOW + 5001), "SIGN", "future"),
        (str(NOW), "AAAA", "does not match"),
    ],
)
def test_bad_deliveries_are_refused(ts: str | None, sig: str | None, why: str) -> None:
    if sig == "SIGN" and ts is not None:
        sig = signature(ts)
    with pytest.raises(fw.SignatureError, match=why):
        fw.verify(SECRET, BODY, ts, sig, now_ms=NOW)


def test_signature_over_other_body_or_secret_fails() -> None:
    ts = str(NOW)
    with pytest.raises(fw.SignatureError):
        fw.verify(SECRET, BODY + b" ", ts, signature(ts), now_ms=NOW)
    with pytest.raises(fw.SignatureError):
        fw.verify(SECRET, BODY, ts, signature(ts, secret="other"), now_ms=NOW)


def test_small_future_skew_is_allowed() -> None:
    ts = str(NOW + 4000)
    fw.verify(SECRET, BODY, ts, signature(ts), now_ms=NOW)


def _inbound(recipients: list[dict[str, str]]) -> dict[str, object]:
    return {
        "type": "inbound",
        "payload": {
            "id": "evt_1",
            "type": "inbound",
            "conversation": {"id": "cnv_1", "subject": "Refund"},
            "source": {"data": [{"id": "inb_other"}, {"id": "inb_1"}]},
            "target": {"data": {"id": "msg_1", "text": "hello", "recipients": recipients}},
        },
    }


def test_parse_inbound_prefers_reply_to() -> None:
    d = fw.parse(
        _inbound(
            [
                {"handle": "from@x.com", "role": "from"},
                {"handle": "reply@x.com", "role": "reply-to"},
            ]
        )
    )
    assert (d.kind, d.event_id, d.conversation_id, d.message_id) == (
        "inbound",
        "evt_1",
        "cnv_1",
        "msg_1",
    )
    assert d.inbox_ids == ("inb_other", "inb_1")
    assert d.customer_email == "reply@x.com"
    assert d.subject == "Refund" and d.message_body == "hello"


def test_parse_inbound_falls_back_to_from() -> None:
    d = fw.parse(_inbound([{"handle": "from@x.com", "role": "from"}]))
    assert d.customer_email == "from@x.com"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e["payload"].pop("id"), "payload.id"),
        (lambda e: e["payload"].update(conversation=[]), "payload.conversation"),
        (lambda e: e["payload"]["source"].update(data="inb_1"), "payload.source.data"),
        (lambda e: e["payload"]["target"]["data"].pop("id"), "payload.target.data.id"),
        (lambda e: e.update(payload="x"), "payload"),
    ],
)
def test_parse_names_the_missing_field(mutate, field: str) -> None:  # type: ignore[no-untyped-def]
    envelope = _inbound([])
    mutate(envelope)
    with pytest.raises(fw.PayloadError, match=field):
        fw.parse(envelope)


def test_sync_and_other_types() -> None:
    assert fw.parse({"type": "sync"}).kind == "sync"
    assert fw.parse({"type": "x", "payload": {"type": "tag"}}).kind == "other"
