"""The approval state machine on the database: who decided, exactly once.

Every change is ONE conditional UPDATE (``WHERE id = :id AND status = 'pending'``); the row count
says who won, so fifty simultaneous clicks produce one decision on SQLite and on MySQL alike. The
winner's transaction also moves ``actions.status`` and appends the audit row, so the three never
disagree. The statement that decides is the first of its transaction: on SQLite a transaction that
read first and wrote second could fail with "database is locked" instead of waiting.

States of ``approval_requests.status``::

    pending --decide(approved)--> approved --(run resolves, executes)
    pending --decide(rejected)--> rejected --(run resolves, revises the draft)
    pending --expire()----------> expired

``resolved_at`` is set when the ``request-approval`` run has taken the decision from the database;
a decided row without it is what the reconciler re-announces (``unresolved_decisions``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Executable, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from support import audit, db, metrics
from support.db.models import Action, App, ApprovalRequest, utcnow

Decision = Literal["approved", "rejected"]
SYSTEM = "system"


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


_ASCII_DIGITS = re.compile(r"[0-9]+")
MAX_AMOUNT_DIGITS = 15
"""Longer than any refund; keeps ``int()`` of a pasted wall of digits cheap."""


def whole_amount(raw: object) -> int | None:
    """A refund amount in minor units (cents, as the integration API takes it), or None if bad.

    A string must be ASCII digits only: ``str.isdigit`` also accepts ``²`` (which ``int`` refuses)
    and full-width digits (which ``int`` reads as ASCII ones), neither of which an approver meant.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if len(text) > MAX_AMOUNT_DIGITS or not _ASCII_DIGITS.fullmatch(text):
            return None
        value = int(text)
    else:
        return None
    return value if value > 0 else None


class InvalidEdit(ValueError):
    """An edit the policy does not allow (the message says why, for the approver)."""


def _changed(session: Session, statement: Executable) -> int:
    """Rows an UPDATE changed (the row count that says who won).

    Run on the session's connection, in its transaction, as plain Core: the ORM's bulk-UPDATE path
    (with ``synchronize_session=False`` it had nothing to synchronise) only added CPU. Callers add
    ORM objects (audit rows) after their UPDATEs, so there is nothing to autoflush first.
    """
    result = session.connection().execute(statement)
    return cast(CursorResult[Any], result).rowcount


def load(action_id: str) -> ApprovalRecord | None:
    with db.session() as s:
        return _record(s, action_id)


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


def _record(session: Session, action_id: str) -> ApprovalRecord | None:
    row = session.connection().execute(_RECORD_BY_ID, {"action_id": action_id}).first()
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


def validate_edits(record: ApprovalRecord, edits: dict[str, Any]) -> dict[str, Any]:
    """Normalise an approver's form input; raise ``InvalidEdit`` for what the policy forbids.

    Input: ``{"draftBody"?: str, "amount"?: str|float}``. Allowed: the draft (any text) and, for
    refunds, ``amount`` in cents (whole, > 0, at most the proposed amount and the app's
    ``max_refund_amount``).
    Output, as stored in ``approval_requests.edits`` and read by ``support.actions.effective``:
    ``{"parameters"?: {"amount": int}, "draftBody"?: str}``; unchanged values are dropped.
    """
    clean: dict[str, Any] = {}
    draft = edits.get("draftBody")
    if draft is not None and str(draft) != (record.draft_body or ""):
        clean["draftBody"] = str(draft)
    if "amount" in edits and edits["amount"] is not None:
        if record.action_type != "refund":
            raise InvalidEdit("only a refund's amount can be changed")
        amount = whole_amount(edits["amount"])
        if amount is None:
            raise InvalidEdit("the amount must be a whole number of cents, greater than 0")
        proposed = record.parameters.get("amount")
        if isinstance(proposed, int) and amount > proposed:
            raise InvalidEdit(f"the amount may not exceed the proposed {proposed}")
        if record.max_refund_amount is not None and amount > record.max_refund_amount:
            raise InvalidEdit(
                f"the amount may not exceed the app's limit {record.max_refund_amount:g}"
            )
        if amount != proposed:
            clean["parameters"] = {"amount": amount}
    unknown = set(edits) - {"draftBody", "amount"}
    if unknown:
        raise InvalidEdit(f"these fields cannot be edited: {', '.join(sorted(unknown))}")
    return clean


def decide(
    action_id: str,
    decision: Decision,
    user_id: str,
    reason: str | None = None,
    edits: dict[str, Any] | None = None,
    *,
    message: tuple[str, str] | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Record ``decision`` by ``user_id`` if, and only if, the request is still pending.

    ``message``: the (channel, ts) of the Slack message the click came from. Given, the request
    must have been posted as that message (or not be recorded as posted yet: a click can beat
    the ``post-to-slack`` step); otherwise nothing changes and ``Outcome.other_message`` is set.

    One conditional UPDATE decides; the winner's transaction also sets ``actions.status`` and
    appends the audit rows. ``edits`` (from ``validate_edits``) are stored on the request; the
    action keeps the agent's proposal, and ``support.actions.effective`` merges the two. A request past ``expires_at`` cannot be decided any more
    (``Outcome.late``), even before its run has marked it expired. The returned record is read in
    the same transaction (one connection, one commit per click).
    """
    if decision not in ("approved", "rejected"):
        raise ValueError(f"unknown decision {decision!r}")
    if decision == "rejected" and not (reason and reason.strip()):
        raise ValueError("a rejection needs a reason")
    moment = now or utcnow()
    conditions = [
        ApprovalRequest.id == action_id,
        ApprovalRequest.status == "pending",
        or_(ApprovalRequest.expires_at.is_(None), ApprovalRequest.expires_at > moment),
    ]
    if message is not None:
        conditions.append(
            or_(
                ApprovalRequest.slack_ts.is_(None),
                and_(
                    ApprovalRequest.slack_channel == message[0],
                    ApprovalRequest.slack_ts == message[1],
                ),
            )
        )
    with db.session() as s:
        won = (
            _changed(
                s,
                update(ApprovalRequest)
                .where(*conditions)
                .values(
                    status=decision,
                    decided_by=user_id,
                    decided_at=moment,
                    reason=reason.strip() if reason else None,
                    edits=edits or None,
                ),
            )
            == 1
        )
        if won:
            _changed(s, update(Action).where(Action.id == action_id).values(status=decision))
        # The state that stands, read in the same transaction (the winner's own writes, or what
        # the winner committed before this loser's UPDATE found nothing to change).
        record = _record(s, action_id)
        if won:
            assert record is not None  # approval_requests.id references actions.id
            _audit_decision(s, record, decision, user_id, moment, reason, edits)
    if won and record is not None:
        metrics.decision("edited" if edits else decision, record.created_at, moment)
    late = (
        not won
        and record is not None
        and record.status == "pending"
        and record.expires_at is not None
        and record.expires_at <= moment
    )
    other_message = (
        not won
        and message is not None
        and record is not None
        and record.slack_ts is not None
        and (record.slack_channel, record.slack_ts) != message
    )
    return Outcome(won=won, record=record, late=late, other_message=other_message)


def _audit_decision(
    session: Session,
    record: ApprovalRecord,
    decision: Decision,
    user_id: str,
    moment: dt.datetime,
    reason: str | None,
    edits: dict[str, Any] | None,
) -> None:
    """The winner's audit rows, in its transaction: the decision, and the edits if any.

    decide() changes neither the parameters nor the draft: ``record``, read after the UPDATEs,
    still holds the values from before the decision.
    """
    before = dict(record.parameters)
    detail: dict[str, Any] = {"decision": decision, "decidedAt": moment.isoformat()}
    if reason:
        detail["reason"] = reason.strip()
    if edits:
        detail["edits"] = edits
        detail["parametersBefore"] = before
    audit.append_in(
        session,
        f"approval.{decision}",
        actor=user_id,
        action_id=record.action_id,
        conversation_id=record.conversation_id,
        detail=detail,
    )
    if edits:
        audit.append_in(
            session,
            "approval.edited",
            actor=user_id,
            action_id=record.action_id,
            conversation_id=record.conversation_id,
            detail={"edits": edits, "parametersBefore": before, "draftBefore": record.draft_body},
        )


def expire(action_id: str, *, now: dt.datetime | None = None) -> Outcome:
    """Mark a still-pending request expired (the run's timeout); no-op for a decided one."""
    moment = now or utcnow()
    with db.session() as s:
        won = (
            _changed(
                s,
                update(ApprovalRequest)
                .where(ApprovalRequest.id == action_id, ApprovalRequest.status == "pending")
                .values(status="expired", decided_at=moment, decided_by=SYSTEM),
            )
            == 1
        )
        if won:
            _changed(s, update(Action).where(Action.id == action_id).values(status="expired"))
            conversation = s.scalar(select(Action.conversation_id).where(Action.id == action_id))
            audit.append_in(
                s,
                "approval.expired",
                actor=SYSTEM,
                action_id=action_id,
                conversation_id=conversation,
                detail={"expiredAt": moment.isoformat()},
            )
    outcome = Outcome(won=won, record=load(action_id))
    if won and outcome.record is not None:
        metrics.decision("expired", outcome.record.created_at, moment)
    return outcome


def resolve(action_id: str, *, now: dt.datetime | None = None) -> Outcome:
    """The run's last look: expire the request if still pending, then mark it resolved.

    Returns the state that stands; ``won`` says whether this call expired it.
    """
    outcome = expire(action_id, now=now)
    mark_resolved(action_id, now=now)
    record = load(action_id)
    return Outcome(won=outcome.won, record=record)


def mark_resolved(action_id: str, *, now: dt.datetime | None = None) -> bool:
    """The run has taken the decision: the reconciler stops re-announcing it. True if changed."""
    with db.session() as s:
        changed = _changed(
            s,
            update(ApprovalRequest)
            .where(ApprovalRequest.id == action_id, ApprovalRequest.resolved_at.is_(None))
            .values(resolved_at=now or utcnow()),
        )
    return changed == 1


def record_message(
    action_id: str, channel: str, ts: str, expires_at: dt.datetime | None = None
) -> None:
    """Save where the request was posted (and when it expires, if not known yet)."""
    values: dict[str, Any] = {"slack_channel": channel, "slack_ts": ts}
    with db.session() as s:
        _changed(s, update(ApprovalRequest).where(ApprovalRequest.id == action_id).values(**values))
        if expires_at is not None:
            _changed(
                s,
                update(ApprovalRequest)
                .where(ApprovalRequest.id == action_id, ApprovalRequest.expires_at.is_(None))
                .values(expires_at=expires_at),
            )


def mark_reminded(action_id: str, *, now: dt.datetime | None = None) -> bool:
    """True for the one caller that records the reminder (a retried step does not remind twice)."""
    with db.session() as s:
        changed = _changed(
            s,
            update(ApprovalRequest)
            .where(
                ApprovalRequest.id == action_id,
                ApprovalRequest.status == "pending",
                ApprovalRequest.reminded_at.is_(None),
            )
            .values(reminded_at=now or utcnow()),
        )
    return changed == 1


def pending_for_home(limit: int = 50) -> list[ApprovalRecord]:
    """Pending requests, oldest first (App Home)."""
    with db.session() as s:
        ids = s.scalars(
            select(ApprovalRequest.id)
            .where(ApprovalRequest.status == "pending")
            .order_by(ApprovalRequest.created_at, ApprovalRequest.id)
            .limit(limit)
        ).all()
        records = [_record(s, action_id) for action_id in ids]
    return [r for r in records if r is not None]


def unresolved_decisions(
    older_than: dt.timedelta, *, now: dt.datetime | None = None, limit: int = 100
) -> list[ApprovalRecord]:
    """Approved or rejected requests whose run has not taken the decision yet.

    Only rows decided more than ``older_than`` ago (a fresh click's own event is still on its
    way) and not yet past expiry (once the wait timed out, the run reads the row anyway).
    """
    moment = now or utcnow()
    with db.session() as s:
        ids = s.scalars(
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
        records = [_record(s, action_id) for action_id in ids]
    return [r for r in records if r is not None]
