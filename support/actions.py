"""Actions on the database: create (with their approval request), claim, record the outcome.

Rules:

* The id is made inside the step that creates the row, and made *deterministically* from the run
  (``action_id_for(run_id)``): a step retried after its commit finds the row it wrote instead of
  inserting a second one.
* ``claim()`` is one conditional UPDATE: it wins only while ``executed_at IS NULL`` and only when the
  action needs no approval or its approval request is ``approved``. The row count says who won.
* ``effective()`` is what runs: the action's parameters merged with the approver's edits
  (``approval_requests.edits["parameters"]``); ``edits["draftBody"]`` replaces the draft.
* Every status change appends to the audit log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from support import audit, db, metrics
from support.db.models import Action, ApprovalRequest, utcnow
from support.results import (
    ActionRecord,
    ApprovalSummary,
    Claim,
    EffectiveAction,
    ExecutionOutcome,
)

if TYPE_CHECKING:
    from support.agent.result import ProposedAgentAction

_NAMESPACE = uuid.UUID("6f1d3c1e-8a57-4a43-9a0e-0c3b7f0b8e11")


class ActionNotFound(LookupError):
    pass


def action_id_for(key: str) -> str:
    """``act_`` + 32 hex characters, the same for the same key (a run id)."""
    return "act_" + uuid.uuid5(_NAMESPACE, key).hex


def create(
    proposed: ProposedAgentAction,
    *,
    action_id: str,
    conversation_id: str,
    app_id: int,
    reasoning: str,
    draft_body: str | None,
    customer_email: str | None,
    context_degraded: bool,
    approval_timeout_hours: float,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Insert the action the agent ``proposed`` (and its pending approval request); a second call
    returns the first row.

    ``usage`` (the agent run's model and tokens) is recorded in the ``action.proposed`` audit row.
    """
    requires_approval = proposed.requires_approval
    with db.session() as s:
        existing = s.get(Action, action_id)
        if existing is not None:
            return to_json(existing)
        now = utcnow()
        action = Action(
            id=action_id,
            conversation_id=conversation_id,
            app_id=app_id,
            type=proposed.type,
            parameters=proposed.parameters,
            requires_approval=requires_approval,
            status="pending_approval" if requires_approval else "proposed",
            reasoning=reasoning,
            draft_body=draft_body,
            customer_email=customer_email,
            context_degraded=context_degraded,
            created_at=now,
        )
        s.add(action)
        s.flush()
        if requires_approval:
            s.add(
                ApprovalRequest(
                    id=action_id,
                    status="pending",
                    created_at=now,
                    expires_at=now + dt.timedelta(hours=approval_timeout_hours),
                )
            )
        audit.append_in(
            s,
            "action.proposed",
            actor="agent",
            action_id=action_id,
            conversation_id=conversation_id,
            detail={
                "type": proposed.type,
                "parameters": proposed.parameters,
                "requiresApproval": requires_approval,
                "contextDegraded": context_degraded,
                **({"agentUsage": usage} if usage else {}),
            },
        )
        s.flush()
        return to_json(action)


def record(action: Action) -> ActionRecord:
    """The row as a step output: every field of ``ActionRecord`` is the column of that name."""
    columns = {
        name: getattr(action, name) for name in ActionRecord.model_fields if name != "action_id"
    }
    return ActionRecord(action_id=action.id, **columns)


def to_json(action: Action) -> dict[str, Any]:
    return record(action).dump()


def _effective_in(s: Session, action: Action) -> EffectiveAction:
    row = record(action)
    approval = s.get(ApprovalRequest, action.id)
    edits = (approval.edits if approval is not None else None) or {}
    edited_params = edits.get("parameters")
    parameters = row.parameters
    if isinstance(edited_params, dict):
        parameters = {**parameters, **edited_params}
    draft_body = row.draft_body
    if isinstance(edits.get("draftBody"), str) and edits["draftBody"].strip():
        draft_body = edits["draftBody"]
    summary = (
        ApprovalSummary(
            status=approval.status, decided_by=approval.decided_by, reason=approval.reason
        )
        if approval is not None
        else None
    )
    return EffectiveAction(
        **{**dict(row), "parameters": parameters, "draft_body": draft_body}, approval=summary
    )


def _load(s: Session, action_id: str) -> Action:
    action = s.get(Action, action_id)
    if action is None:
        raise ActionNotFound(f"no action {action_id}")
    return action


def effective_action(action_id: str) -> EffectiveAction:
    """The action as it will run: parameters merged with the approver's edits."""
    with db.session() as s:
        return _effective_in(s, _load(s, action_id))


def effective(action_id: str) -> dict[str, Any]:
    """``effective_action`` as plain JSON."""
    return effective_action(action_id).dump()


def claim(action_id: str, *, actor: str = "executor") -> dict[str, Any]:
    """Take the action for execution, once. Returns ``{"claimed": bool, "reason", "action"}``."""
    approved = select(ApprovalRequest.id).where(
        ApprovalRequest.id == action_id, ApprovalRequest.status == "approved"
    )
    with db.session() as s:
        result = s.execute(
            update(Action)
            .where(
                and_(
                    Action.id == action_id,
                    Action.executed_at.is_(None),
                    or_(Action.requires_approval.is_(False), Action.id.in_(approved)),
                )
            )
            .values(executed_at=utcnow(), status="executing")
            .execution_options(synchronize_session=False)
        )
        won = getattr(result, "rowcount", 0) == 1
        action = _load(s, action_id)
        s.refresh(action)
        if won:
            audit.append_in(
                s,
                "action.claimed",
                actor=actor,
                action_id=action_id,
                conversation_id=action.conversation_id,
            )
            return Claim(claimed=True, reason=None, action=_effective_in(s, action)).dump()
        if action.executed_at is not None:
            reason = f"already executed (status {action.status})"
        else:
            reason = "not approved"
        return Claim(claimed=False, reason=reason, action=_effective_in(s, action)).dump()


def record_success(action_id: str, result: dict[str, Any], *, actor: str = "executor") -> None:
    _record_outcome(action_id, "succeeded", result=result, actor=actor)


def record_failure(action_id: str, error: str, *, actor: str = "executor") -> None:
    """Mark the action failed with its error (never 'done'); idempotent for the same error."""
    _record_outcome(action_id, "failed", error=error, actor=actor)


def _record_outcome(
    action_id: str,
    status: str,
    *,
    actor: str,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """The action's final status, with its audit row (``action.<status>``) and its metric."""
    with db.session() as s:
        # The status moves in one conditional UPDATE, the transaction's first statement: of two
        # writers (the executor and a failure handler) exactly one moves it, and only that one
        # counts it in the metrics.
        moved = s.connection().execute(
            update(Action)
            .where(Action.id == action_id, Action.status != status)
            .values(status=status)
        )
        first = moved.rowcount == 1
        action = _load(s, action_id)
        if not first and status == "failed" and action.error == error:
            return
        action.status, action.error = status, error
        if status == "succeeded":
            action.result = result
        detail: dict[str, Any] = {"result": result} if status == "succeeded" else {"error": error}
        audit.append_in(
            s,
            f"action.{status}",
            actor=actor,
            action_id=action_id,
            conversation_id=action.conversation_id,
            detail=detail,
        )
    if first:
        metrics.execution(action.type, status)


def outcome(action_id: str) -> dict[str, Any]:
    """What ``execute-action`` returns to its caller, read from the row (the source of truth)."""
    with db.session() as s:
        action = _load(s, action_id)
        succeeded = action.status == "succeeded"
        return ExecutionOutcome(
            action_id=action_id,
            status="succeeded" if succeeded else "failed",
            result=action.result if succeeded else None,
            error=None if succeeded else (action.error or f"status {action.status}"),
        ).dump()
