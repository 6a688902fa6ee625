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

This module holds the transitions; ``records.py`` the record and the queries, ``edits.py`` what an
approver may change. Everything is imported from ``support.approvals``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Update,
    and_,
    bindparam,
    or_,
    select,
    update,
)

from support import audit, db, metrics
from support.approvals.edits import MAX_AMOUNT_DIGITS, InvalidEdit, validate_edits, whole_amount
from support.approvals.records import (
    ApprovalRecord,
    Outcome,
    iso_utc,
    load,
    pending_for_home,
    record_in,
    unresolved_decisions,
)
from support.db.models import Action, ApprovalRequest, utcnow

__all__ = [
    "MAX_AMOUNT_DIGITS",
    "SYSTEM",
    "ApprovalRecord",
    "Decision",
    "InvalidEdit",
    "Outcome",
    "decide",
    "expire",
    "iso_utc",
    "load",
    "mark_reminded",
    "mark_resolved",
    "pending_for_home",
    "record_message",
    "resolve",
    "unresolved_decisions",
    "utcnow",
    "validate_edits",
    "whole_amount",
]

Decision = Literal["approved", "rejected"]
SYSTEM = "system"


def _changed(conn: Connection, statement: Executable, params: dict[str, Any] | None = None) -> int:
    """Rows an UPDATE changed (the row count that says who won), in ``conn``'s transaction."""
    result = conn.execute(statement, params or {})
    return cast(CursorResult[Any], result).rowcount


def _decide_statement(*, from_message: bool) -> Update:
    """The conditional UPDATE that decides, with bind parameters only (built once per shape:
    building an UPDATE and its cache key costs more CPU than running it)."""
    conditions = [
        ApprovalRequest.id == bindparam("b_id"),
        ApprovalRequest.status == "pending",
        or_(ApprovalRequest.expires_at.is_(None), ApprovalRequest.expires_at > bindparam("b_now")),
    ]
    if from_message:
        conditions.append(
            or_(
                ApprovalRequest.slack_ts.is_(None),
                and_(
                    ApprovalRequest.slack_channel == bindparam("b_channel"),
                    ApprovalRequest.slack_ts == bindparam("b_ts"),
                ),
            )
        )
    return (
        update(ApprovalRequest)
        .where(*conditions)
        .values(
            status=bindparam("b_decision", type_=ApprovalRequest.status.type),
            decided_by=bindparam("b_user", type_=ApprovalRequest.decided_by.type),
            decided_at=bindparam("b_now", type_=ApprovalRequest.decided_at.type),
            reason=bindparam("b_reason", type_=ApprovalRequest.reason.type),
            edits=bindparam("b_edits", type_=ApprovalRequest.edits.type),
        )
    )


_DECIDE = {
    from_message: _decide_statement(from_message=from_message) for from_message in (False, True)
}
_ACTION_STATUS = (
    update(Action)
    .where(Action.id == bindparam("b_id"))
    .values(status=bindparam("b_status", type_=Action.status.type))
)


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
    action keeps the agent's proposal, and ``support.actions.effective`` merges the two. A request
    past ``expires_at`` cannot be decided any more (``Outcome.late``), even before its run has
    marked it expired. The returned record is read in the same transaction (one connection, one
    commit per click, plain Core: this is the click's critical path).
    """
    if decision not in ("approved", "rejected"):
        raise ValueError(f"unknown decision {decision!r}")
    if decision == "rejected" and not (reason and reason.strip()):
        raise ValueError("a rejection needs a reason")
    moment = now or utcnow()
    params: dict[str, Any] = {
        "b_id": action_id,
        "b_now": moment,
        "b_decision": decision,
        "b_user": user_id,
        "b_reason": reason.strip() if reason else None,
        "b_edits": edits or None,
    }
    if message is not None:
        params["b_channel"], params["b_ts"] = message
    with db.engine().begin() as conn:
        won = _changed(conn, _DECIDE[message is not None], params) == 1
        if won:
            _changed(conn, _ACTION_STATUS, {"b_id": action_id, "b_status": decision})
        # The state that stands, read in the same transaction (the winner's own writes, or what
        # the winner committed before this loser's UPDATE found nothing to change).
        record = record_in(conn, action_id)
        if won:
            assert record is not None  # approval_requests.id references actions.id
            _audit_decision(conn, record, decision, user_id, moment, reason, edits)
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
    conn: Connection,
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
    audit.append_on(
        conn,
        f"approval.{decision}",
        actor=user_id,
        action_id=record.action_id,
        conversation_id=record.conversation_id,
        detail=detail,
    )
    if edits:
        audit.append_on(
            conn,
            "approval.edited",
            actor=user_id,
            action_id=record.action_id,
            conversation_id=record.conversation_id,
            detail={"edits": edits, "parametersBefore": before, "draftBefore": record.draft_body},
        )


def expire(action_id: str, *, now: dt.datetime | None = None) -> Outcome:
    """Mark a still-pending request expired (the run's timeout); no-op for a decided one."""
    moment = now or utcnow()
    with db.engine().begin() as conn:
        won = (
            _changed(
                conn,
                update(ApprovalRequest)
                .where(ApprovalRequest.id == action_id, ApprovalRequest.status == "pending")
                .values(status="expired", decided_at=moment, decided_by=SYSTEM),
            )
            == 1
        )
        if won:
            _changed(conn, update(Action).where(Action.id == action_id).values(status="expired"))
            conversation = conn.scalar(select(Action.conversation_id).where(Action.id == action_id))
            audit.append_on(
                conn,
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
    with db.engine().begin() as conn:
        changed = _changed(
            conn,
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
    with db.engine().begin() as conn:
        _changed(
            conn, update(ApprovalRequest).where(ApprovalRequest.id == action_id).values(**values)
        )
        if expires_at is not None:
            _changed(
                conn,
                update(ApprovalRequest)
                .where(ApprovalRequest.id == action_id, ApprovalRequest.expires_at.is_(None))
                .values(expires_at=expires_at),
            )


def mark_reminded(action_id: str, *, now: dt.datetime | None = None) -> bool:
    """True for the one caller that records the reminder (a retried step does not remind twice)."""
    with db.engine().begin() as conn:
        changed = _changed(
            conn,
            update(ApprovalRequest)
            .where(
                ApprovalRequest.id == action_id,
                ApprovalRequest.status == "pending",
                ApprovalRequest.reminded_at.is_(None),
            )
            .values(reminded_at=now or utcnow()),
        )
    return changed == 1
