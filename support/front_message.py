"""A Front message (or draft) as the workflows use it, validated from Front's JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support.front_errors import FrontError


def expect_obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FrontError(f"Front answered an unexpected shape: {where} is not an object")
    return value


def expect_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise FrontError(f"Front answered an unexpected shape: {where} is not a non-empty string")
    return value


def expect_results(body: Any, where: str) -> list[dict[str, Any]]:
    results = expect_obj(body, where).get("_results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise FrontError(f"Front answered an unexpected shape: {where}._results is not a list")
    return results


def _from_handle(message: dict[str, Any]) -> str | None:
    """The ``from`` recipient's handle, stripped; None when there is none."""
    recipients = message.get("recipients")
    for r in recipients if isinstance(recipients, list) else []:
        if isinstance(r, dict) and r.get("role") == "from" and isinstance(r.get("handle"), str):
            return r["handle"].strip() or None
    return None


@dataclass(frozen=True)
class Message:
    """The fields of a Front message the workflows use (validated)."""

    id: str
    is_inbound: bool
    text: str
    subject: str | None
    created_at: float
    customer_email: str | None
    is_draft: bool = False
    body_html: str = ""
    version: str | None = None  # drafts: Front's current version (DELETE /drafts/{id} needs it)
    sender_email: str | None = None
    """Who sent it: the ``from`` recipient's handle (never ``reply-to``, unlike ``customer_email``,
    which is where an answer goes). The customer's identity, whose account the agent may read."""

    @classmethod
    def parse(cls, raw: Any) -> Message:
        from support.front_webhook import customer_address

        m = expect_obj(raw, "message")
        message_id = expect_str(m.get("id"), "message.id")
        text = m.get("text")
        body = m.get("body")
        if not isinstance(text, str):
            text = body if isinstance(body, str) else ""
        created = m.get("created_at")
        if not isinstance(created, int | float):
            raise FrontError(f"Front message {message_id}: created_at is not a number")
        subject = m.get("subject")
        version = m.get("version")
        return cls(
            id=message_id,
            is_inbound=bool(m.get("is_inbound")),
            text=text,
            subject=subject if isinstance(subject, str) else None,
            created_at=float(created),
            customer_email=customer_address(m),
            is_draft=bool(m.get("is_draft")),
            body_html=body if isinstance(body, str) else "",
            version=version if isinstance(version, str) and version else None,
            sender_email=_from_handle(m),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "isInbound": self.is_inbound,
            "text": self.text,
            "subject": self.subject,
            "createdAt": self.created_at,
            "customerEmail": self.customer_email,
        }
