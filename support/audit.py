"""The audit log: append-only rows saying what happened, who did it and when.

A row is written with one Core INSERT built once (bind parameters only): no ORM object, no unit of
work flush. The table's column defaults (``created_at``) still apply.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict, Unpack, cast

from sqlalchemy import Connection, CursorResult, insert
from sqlalchemy.orm import Session

from support import db
from support.db.models import AuditLog

_INSERT = insert(AuditLog.__table__)  # type: ignore[arg-type]


class Fields(TypedDict, total=False):
    """Who and what a row is about (``actor`` is required)."""

    actor: Required[str]
    action_id: str | None
    conversation_id: str | None
    detail: dict[str, Any] | None


def append_on(target: Connection | Session, event: str, **fields: Unpack[Fields]) -> int:
    """Insert a row in the transaction of ``target`` (a plain Core connection, or a session: the row
    then commits with the change it records); returns its id. On a session it runs on the
    session's connection at once: ORM objects the caller added are flushed when the caller flushes
    or commits (the audit table has no foreign keys, so the order does not matter)."""
    conn = target.connection() if isinstance(target, Session) else target
    result = conn.execute(
        _INSERT,
        {
            "event": event,
            "actor": fields["actor"],
            "action_id": fields.get("action_id"),
            "conversation_id": fields.get("conversation_id"),
            "detail": fields.get("detail") or {},
        },
    )
    key = cast(CursorResult[Any], result).inserted_primary_key
    assert key is not None
    return int(key[0])


append_in = append_on
"""Inside the caller's session (the name the ORM callers use)."""


def append(event: str, **fields: Unpack[Fields]) -> int:
    """Append one row in its own transaction (a plain connection, no ORM session); returns its
    id."""
    with db.engine().begin() as conn:
        return append_on(conn, event, **fields)
