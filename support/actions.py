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
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from support import audit, db, metrics
from support.db.models import Action, ApprovalRequest, utcnow
from support.events import ACTION_ID_FIELD

_NAMESPACE = uuid.UUID("6f1d3c1e-8a57-4a43-9a0e-0c3b7f0b8e11")


class ActionNotFound(LookupError):
    pass


def action_id_for(key: str) -> str:
    """``act_`` + 32 hex characters, the same for the same key (a run id)."""
    return "act_" + uuid.uuid5(_NAMESPACE, key).hex


def create(
    *,
    action_id: str,
    conversation_id: str,
    app_id: int,
    action_type: str,
    parameters: dict[str, Any],
    requires_approval: bool,
    reasoning: str,
    draft_body: str | None,
    customer_email: str | None,
    context_degraded: bool,
    approval_timeout_hours: float,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Insert the action (and its pending approval request); a second call returns the first row.

    ``usage`` (the agent run's model and tokens) is recorded in the ``action.proposed`` audit row.
    """
    with db.session() as s:
        existing = s.get(Action, action_id)
        if existing is not None:
            return to_json(existing)
        now = utcnow()
        action = Action(
            id=action_id,
            conversation_id=conversation_id,
            app_id=app_id,
            type=action_type,
            parameters=parameters,
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
                "type": action_type,
                "parameters": parameters,
                "requiresApproval": requires_approval,
                "contextDegraded": context_degraded,
                **({"agentUsage": usage} if usage else {}),
            },
        )
        s.flush()
        return to_json(action)


def to_json(action: Action) -> dict[str, Any]:
    return {
        ACTION_ID_FIELD: action.id,
        "conversationId": action.conversation_id,
        "appId": action.app_id,
        "type": action.type,
        "parameters": dict(action.parameters or {}),
        "requiresApproval": action.requires_approval,
        "status": action.status,
        "reasoning": action.reasoning,
        "draftBody": action.draft_body,
        "customerEmail": action.customer_email,
        "contextDegraded": action.context_degraded,
        "result": action.result,
        "error": action.error,
    }


def _effective_in(s: Session, action: Action) -> dict[str, Any]:
    out = to_json(action)
    approval = s.get(ApprovalRequest, action.id)
    edits = (approval.edits if approval is not None else None) or {}
    edited_params = edits.get("parameters")
    if isinstance(edited_params, dict):
        out["parameters"] = {**out["parameters"], **edited_params}
    if isinstance(edits.get("draftBody"), str) and edits["draftBody"].strip():
        out["draftBody"] = edits["draftBody"]
    out["approval"] = (
        {"status": approval.status, "decidedBy": approval.decided_by, "reason": approval.reason}
        if approval is not None
        else None
    )
    return out


def effective(action_id: str) -> dict[str, Any]:
    """The action as it will run: parameters merged with the approver's edits."""
    with db.session() as s:
        action = s.get(Action, action_id)
        if action is None:
            raise ActionNotFound(f"no action {action_id}")
        return _effective_in(s, action)


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
        action = s.get(Action, action_id)
        if action is None:
            raise ActionNotFound(f"no action {action_id}")
        s.refresh(action)
        if won:
            audit.append_in(
                s,
                "action.claimed",
                actor=actor,
                action_id=action_id,
                conversation_id=action.conversation_id,
            )
            return {"claimed": True, "reason": None, "action": _effective_in(s, action)}
        if action.executed_at is not None:
            reason = f"already executed (status {action.status})"
        else:
            reason = "not approved"
        return {"claimed": False, "reason": reason, "action": _effective_in(s, action)}


def record_success(action_id: str, result: dict[str, Any], *, actor: str = "executor") -> None:
    with db.session() as s:
        action = s.get(Action, action_id)
        if action is None:
            raise ActionNotFound(f"no action {action_id}")
        action.status, action.result, action.error = "succeeded", result, None
        audit.append_in(
            s,
            "action.succeeded",
            actor=actor,
            action_id=action_id,
            conversation_id=action.conversation_id,
            detail={"result": result},
        )
    metrics.execution(action.type, "succeeded")


def record_failure(action_id: str, error: str, *, actor: str = "executor") -> None:
    """Mark the action failed with its error (never 'done'); idempotent for the same error."""
    with db.session() as s:
        action = s.get(Action, action_id)
        if action is None:
            raise ActionNotFound(f"no action {action_id}")
        if action.status == "failed" and action.error == error:
            return
        action.status, action.error = "failed", error
        audit.append_in(
            s,
            "action.failed",
            actor=actor,
            action_id=action_id,
            conversation_id=action.conversation_id,
            detail={"error": error},
        )
    metrics.execution(action.type, "failed")


def outcome(action_id: str) -> dict[str, Any]:
    """What ``execute-action`` returns to its caller, read from the row (the source of truth)."""
    with db.session() as s:
        action = s.get(Action, action_id)
        if action is None:
            raise ActionNotFound(f"no action {action_id}")
        status = "succeeded" if action.status == "succeeded" else "failed"
        return {
            ACTION_ID_FIELD: action_id,
            "status": status,
            "result": action.result if status == "succeeded" else None,
            "error": None if status == "succeeded" else (action.error or f"status {action.status}"),
        }
