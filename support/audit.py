"""The audit log: append-only rows saying what happened, who did it and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from support import db
from support.db.models import AuditLog


def append_in(
    session: Session,
    event: str,
    *,
    actor: str,
    action_id: str | None = None,
    conversation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditLog:
    """Add a row inside the caller's unit of work (so it commits with the change it records)."""
    row = AuditLog(
        event=event,
        actor=actor,
        action_id=action_id,
        conversation_id=conversation_id,
        detail=detail or {},
    )
    session.add(row)
    return row


def append(
    event: str,
    *,
    actor: str,
    action_id: str | None = None,
    conversation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one row in its own transaction; returns its id."""
    with db.session() as s:
        row = append_in(
            s,
            event,
            actor=actor,
            action_id=action_id,
            conversation_id=conversation_id,
            detail=detail,
        )
        s.flush()
        return row.id
