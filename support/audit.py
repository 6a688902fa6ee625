"""The audit log: append-only rows saying what happened, who did it and when.

A row is written with one Core INSERT built once (bind parameters only): no ORM object, no unit of
work flush. The table's column defaults (``created_at``) still apply.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, CursorResult, insert
from sqlalchemy.orm import Session

from support import db
from support.db.models import AuditLog

_INSERT = insert(AuditLog.__table__)  # type: ignore[arg-type]


def append_on(
    conn: Connection,
    event: str,
    *,
    actor: str,
    action_id: str | None = None,
    conversation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Insert a row on a plain Core connection, in its transaction; returns its id."""
    result = conn.execute(
        _INSERT,
        {
            "event": event,
            "actor": actor,
            "action_id": action_id,
            "conversation_id": conversation_id,
            "detail": detail or {},
        },
    )
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


def append_in(
    session: Session,
    event: str,
    *,
    actor: str,
    action_id: str | None = None,
    conversation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Insert a row inside the caller's transaction (so it commits with the change it records);
    returns its id. It runs on the session's connection at once: ORM objects the caller added
    are flushed when the caller flushes or commits (the audit table has no foreign keys, so the
    order does not matter)."""
    return append_on(
        session.connection(),
        event,
        actor=actor,
        action_id=action_id,
        conversation_id=conversation_id,
        detail=detail,
    )


def append(
    event: str,
    *,
    actor: str,
    action_id: str | None = None,
    conversation_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Append one row in its own transaction (a plain connection, no ORM session); returns its
    id."""
    with db.engine().begin() as conn:
        return append_on(
            conn,
            event,
            actor=actor,
            action_id=action_id,
            conversation_id=conversation_id,
            detail=detail,
        )
