"""The read side of approvals: ``ApprovalRecord`` (one request and its action, built from labelled
columns), ``Outcome``, and the queries (``load``, ``pending_for_home``, ``unresolved_decisions``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select

from support import db
from support.db.models import Action, App, ApprovalRequest, utcnow


@dataclasses.dataclass(frozen=True)
class ApprovalRecord:
    """A read-only snapshot of one approval request and its action (plain data, JSON-able)."""

    action_id: str
    action_type: str
    conversation_id: str
    app_id: int
    app_name: str
    app_channel: str | None
    max_refund_amount: float | None
    customer_email: str | None
    reasoning: str
    parameters: dict[str, Any]
    draft_body: str | None
    context_degraded: bool
    status: str
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None
    edits: dict[str, Any] | None
    slack_channel: str | None
    slack_ts: str | None
    expires_at: dt.datetime | None
    resolved_at: dt.datetime | None
    reminded_at: dt.datetime | None
    created_at: dt.datetime
    action_status: str
    result: dict[str, Any] | None
    error: str | None

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly (datetimes as ISO strings): a step may return it."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.datetime):
                out[key] = value.isoformat()
        return out


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What ``decide`` / ``expire`` did. ``won`` is True for exactly one caller per request.

    A loser reads ``record`` for the state that stands (``status``, ``decided_by``). ``record`` is
    None when no approval request has that id.
    """

    won: bool
    record: ApprovalRecord | None
    late: bool = False  # still pending in the table, but past its expiry time
    other_message: bool = False  # the click came from a message that is not this request's

    @property
    def found(self) -> bool:
        return self.record is not None

    @property
    def status(self) -> str:
        if self.record is None:
            return "missing"
        if self.late and self.record.status == "pending":
            return "expired"
        return self.record.status


def iso_utc(moment: dt.datetime | None) -> str:
    """A naive-UTC column value as ISO 8601 with ``Z`` (the events' ``decidedAt``)."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=None).isoformat() + "Z"


def load(action_id: str) -> ApprovalRecord | None:
    with db.engine().connect() as conn:
        return record_in(conn, action_id)


# Only the columns an ApprovalRecord carries (not the app's secrets and URLs): with the pure-Python
# MySQL driver every selected column costs a field descriptor to parse, on every query. Each column
# is labelled with the ApprovalRecord field it fills: the record is built by name, so the order of
# this table cannot matter.
_RECORD_COLUMNS = {
    "action_id": Action.id,
    "action_type": Action.type,
    "conversation_id": Action.conversation_id,
    "app_id": App.id,
    "app_name": App.name,
    "app_channel": App.slack_channel,
    "max_refund_amount": App.max_refund_amount,
    "customer_email": Action.customer_email,
    "reasoning": Action.reasoning,
    "parameters": Action.parameters,
    "draft_body": Action.draft_body,
    "context_degraded": Action.context_degraded,
    "status": ApprovalRequest.status,
    "decided_by": ApprovalRequest.decided_by,
    "decided_at": ApprovalRequest.decided_at,
    "reason": ApprovalRequest.reason,
    "edits": ApprovalRequest.edits,
    "slack_channel": ApprovalRequest.slack_channel,
    "slack_ts": ApprovalRequest.slack_ts,
    "expires_at": ApprovalRequest.expires_at,
    "resolved_at": ApprovalRequest.resolved_at,
    "reminded_at": ApprovalRequest.reminded_at,
    "created_at": ApprovalRequest.created_at,
    "action_status": Action.status,
    "result": Action.result,
    "error": Action.error,
}
if set(_RECORD_COLUMNS) != {f.name for f in dataclasses.fields(ApprovalRecord)}:
    raise RuntimeError("_RECORD_COLUMNS must label exactly the fields of ApprovalRecord")

# Built once: constructing a 26-column SELECT costs more CPU than compiling it (which is cached).
_RECORD_BY_ID = (
    select(*(column.label(name) for name, column in _RECORD_COLUMNS.items()))
    .join_from(ApprovalRequest, Action, Action.id == ApprovalRequest.id)
    .join(App, App.id == Action.app_id)
    .where(ApprovalRequest.id == bindparam("action_id"))
)


def record_in(conn: Connection, action_id: str) -> ApprovalRecord | None:
    """The record, read in ``conn``'s transaction."""
    row = conn.execute(_RECORD_BY_ID, {"action_id": action_id}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    return ApprovalRecord(
        **{
            **values,
            "reasoning": values["reasoning"] or "",
            "parameters": dict(values["parameters"] or {}),
            "context_degraded": bool(values["context_degraded"]),
            "edits": dict(values["edits"]) if values["edits"] else None,
            "result": dict(values["result"]) if values["result"] else None,
        }
    )


def pending_for_home(limit: int = 50) -> list[ApprovalRecord]:
    """Pending requests, oldest first (App Home)."""
    with db.engine().connect() as conn:
        ids = conn.scalars(
            select(ApprovalRequest.id)
            .where(ApprovalRequest.status == "pending")
            .order_by(ApprovalRequest.created_at, ApprovalRequest.id)
            .limit(limit)
        ).all()
        records = [record_in(conn, action_id) for action_id in ids]
    return [r for r in records if r is not None]


def unresolved_decisions(
    older_than: dt.timedelta, *, now: dt.datetime | None = None, limit: int = 100
) -> list[ApprovalRecord]:
    """Approved or rejected requests whose run has not taken the decision yet.

    Only rows decided more than ``older_than`` ago (a fresh click's own event is still on its
    way) and not yet past expiry (once the wait timed out, the run reads the row anyway).
    """
    moment = now or utcnow()
    with db.engine().connect() as conn:
        ids = conn.scalars(
            select(ApprovalRequest.id)
            .where(
                ApprovalRequest.status.in_(("approved", "rejected")),
                ApprovalRequest.resolved_at.is_(None),
                ApprovalRequest.decided_at < moment - older_than,
                or_(ApprovalRequest.expires_at.is_(None), ApprovalRequest.expires_at > moment),
            )
            .order_by(ApprovalRequest.decided_at)
            .limit(limit)
        ).all()
        records = [record_in(conn, action_id) for action_id in ids]
    return [r for r in records if r is not None]
