"""Front application webhooks: signature check and envelope parsing (no Flask, no I/O).

Signature: ``X-Front-Signature`` = base64(HMAC-SHA256(app secret, f"{X-Front-Request-Timestamp}:" +
raw body)); the timestamp is in milliseconds. A delivery older than ``MAX_AGE_MS`` or more than
``MAX_SKEW_MS`` in the future is refused, whatever its signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Any

MAX_AGE_MS = 5 * 60 * 1000
MAX_SKEW_MS = 5 * 1000

MAX_ID_CHARS = 200
"""Front ids are short (``cnv_…``, ``msg_…``); a signed delivery with a longer one is malformed."""

_SURROGATE = re.compile("[\ud800-\udfff]")

INBOUND_TYPES = frozenset({"inbound", "inbound_received"})
OUTBOUND_TYPES = frozenset({"outbound", "out_reply", "outbound_sent"})


class SignatureError(Exception):
    """The delivery is not provably from Front (answered 401)."""


class PayloadError(ValueError):
    """The delivery is signed but not a usable Front event (answered 400)."""


def sign(secret: str, timestamp_ms: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp_ms.encode() + b":" + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def verify(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now_ms: int | None = None,
) -> None:
    if not timestamp or not signature:
        raise SignatureError("missing X-Front-Signature or X-Front-Request-Timestamp")
    if not timestamp.isdigit() or len(timestamp) > 16:
        raise SignatureError("X-Front-Request-Timestamp is not a millisecond timestamp")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    age = now - int(timestamp)
    if age > MAX_AGE_MS:
        raise SignatureError("delivery is older than 5 minutes")
    if age < -MAX_SKEW_MS:
        raise SignatureError("delivery timestamp is in the future")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode("utf-8", "replace")):
        raise SignatureError("signature does not match")


@dataclass(frozen=True)
class Delivery:
    """What the door needs from one webhook delivery."""

    kind: str  # "sync" | "inbound" | "outbound" | "other"
    event_type: str
    event_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    inbox_ids: tuple[str, ...] = ()
    subject: str | None = None
    message_body: str | None = None
    customer_email: str | None = None

    def ids(self) -> tuple[str, str, str]:
        """(event id, conversation id, message id) of an inbound or outbound delivery."""
        if not (self.event_id and self.conversation_id and self.message_id):
            raise PayloadError(f"a {self.kind} delivery needs event, conversation and message ids")
        return self.event_id, self.conversation_id, self.message_id


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object")
    return value


def clean(text: str) -> str:
    """``text`` encodable as UTF-8: each lone surrogate (JSON allows ``"\\ud83d"`` alone, UTF-8
    does not) becomes U+FFFD. ``json.loads`` joins valid pairs, so any surrogate left is lone."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _text(value: Any) -> str | None:
    return clean(value) if isinstance(value, str) and value else None


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where} must be a non-empty string")
    if len(value) > MAX_ID_CHARS:
        raise PayloadError(f"{where} is longer than {MAX_ID_CHARS} characters")
    return clean(value)


def customer_address(message: dict[str, Any]) -> str | None:
    """The address to answer: the ``reply-to`` recipient first, else ``from``."""
    recipients = message.get("recipients")
    if not isinstance(recipients, list):
        return None
    for role in ("reply-to", "from"):
        for r in recipients:
            if isinstance(r, dict) and r.get("role") == role and isinstance(r.get("handle"), str):
                return str(r["handle"])
    return None


def parse(envelope: Any) -> Delivery:
    env = _obj(envelope, "body")
    env_type = env.get("type")
    if env_type == "sync":
        return Delivery(kind="sync", event_type="sync")
    payload = _obj(env.get("payload"), "payload")
    event_type = payload.get("type") or env_type
    if not isinstance(event_type, str) or not event_type:
        raise PayloadError("payload.type must be a non-empty string")
    if event_type not in INBOUND_TYPES | OUTBOUND_TYPES:
        return Delivery(kind="other", event_type=event_type)
    event_id = _str(payload.get("id"), "payload.id")
    conversation = _obj(payload.get("conversation"), "payload.conversation")
    conversation_id = _str(conversation.get("id"), "payload.conversation.id")
    target = _obj(payload.get("target"), "payload.target")
    message = _obj(target.get("data"), "payload.target.data")
    message_id = _str(message.get("id"), "payload.target.data.id")
    if event_type in OUTBOUND_TYPES:
        return Delivery(
            kind="outbound",
            event_type=event_type,
            event_id=event_id,
            conversation_id=conversation_id,
            message_id=message_id,
        )
    source = _obj(payload.get("source"), "payload.source")
    inboxes = source.get("data")
    if not isinstance(inboxes, list):
        raise PayloadError("payload.source.data must be a list of inboxes")
    inbox_ids = tuple(
        clean(i["id"])
        for i in inboxes
        if isinstance(i, dict) and isinstance(i.get("id"), str) and len(i["id"]) <= MAX_ID_CHARS
    )
    subject = message.get("subject") or conversation.get("subject")
    text = message.get("text") or message.get("body")
    return Delivery(
        kind="inbound",
        event_type=event_type,
        event_id=event_id,
        conversation_id=conversation_id,
        message_id=message_id,
        inbox_ids=inbox_ids,
        subject=_text(subject),
        message_body=_text(text),
        customer_email=customer_address(message),
    )
