"""``execute-action``: run one action once, record its outcome, and return it to the caller.

Trigger ``support/action.execute`` (``events.ExecuteActionRequested``); normally reached through
``step.invoke`` with ``data = {actionId}`` by the approval flow (approved) or by
``handle-inbound-message`` (a safe action).

Contract: returns ``{"actionId", "status": "succeeded"|"failed", "result": {...}|None,
"error": str|None}`` so the caller can show the outcome (for example in Slack). A failure is
recorded on the action (``failed`` + its error, audit row) and returned, never reported as done;
the child run ``process-refund`` itself fails visibly in Inngest when the refund fails.

Steps: ``claim-action`` (one conditional UPDATE: only an unexecuted action that needs no approval
or is approved) -> ``process-refund`` (invoke) or ``run-action`` -> ``record-result`` /
``record-failure`` -> ``create-draft`` (the reply the agent wrote with an approved action, the
approver's edit applied; a safe action's reply is written by its caller, ``handle-inbound-message``,
so the customer gets one draft). A second run for the same action claims nothing and returns the
recorded outcome.
"""

from __future__ import annotations

from typing import Any

import inngest

from support import actions
from support.config import current
from support.events import ACTION_ID_FIELD, ExecuteActionRequested
from support.front import FrontClient
from support.front_errors import FrontError
from support.integrations import IntegrationAuthError, IntegrationRejected
from support.results import ActionRun, Claim, EffectiveAction, ExecutionOutcome, run_step
from support.workflows.failures import event_function
from support.workflows.inbound_steps import (
    front_call_failed,
    integration_for,
    load_app,
    write_draft,
)
from support.workflows.process_refund import process_refund


def run_action(action: EffectiveAction) -> dict[str, Any]:
    """Non-refund actions. Permanent errors are returned as ``{"error": ...}`` (and then recorded
    as the action's failure); transient ones raise so the step is retried."""
    output = _run_action(action)
    ActionRun.model_validate(output)  # the result as the integration gave it, checked
    return output


def _run_action(action: EffectiveAction) -> dict[str, Any]:
    params = action.parameters
    conversation_id = action.conversation_id
    try:
        with FrontClient.from_config(current()) as front:
            if action.type == "escalate":
                note = (
                    f"Escalated by the support agent ({params.get('urgency', 'normal')}): "
                    f"{params.get('reason', '')}"
                )
                return {"commentId": front.comment(conversation_id, note)}
            if action.type == "assign_to_instructor":
                note = f"For the instructor: {params.get('reason', '')}"
                result: dict[str, Any] = {"commentId": front.comment(conversation_id, note)}
                if params.get("assignee_id"):
                    front.assign(conversation_id, str(params["assignee_id"]))
                    result["assigneeId"] = params["assignee_id"]
                return result
            if action.type == "transfer":
                client = integration_for(load_app(action.app_id))
                return client.transfer_purchase(
                    purchase_id=str(params["purchase_id"]),
                    to_email=str(params["to_email"]),
                    idempotency_key=action.action_id,
                )
    except FrontError as exc:
        front_call_failed(exc)
        if exc.status is not None and 400 <= exc.status < 500:
            return {"error": str(exc)}
        raise
    except (IntegrationRejected, IntegrationAuthError) as exc:
        return {"error": str(exc)}
    except KeyError as exc:
        return {"error": f"missing parameter {exc}"}
    return {"error": f"unknown action type {action.type!r}"}


def create_action_draft(action: EffectiveAction) -> dict[str, Any]:
    draft = write_draft(
        f"action:{action.action_id}", action, action.draft_body or "", action_id=action.action_id
    )
    return draft.dump()


@event_function(ExecuteActionRequested, fn_id="execute-action", retries=3)
def execute_action(ctx: inngest.ContextSync) -> dict[str, Any]:
    action_id = ExecuteActionRequested.parse(ctx.event.data).action_id

    claim = run_step(ctx, "claim-action", actions.claim, action_id, out=Claim)
    action = claim.action
    if not claim.claimed:
        ctx.logger.info("action.not_claimed action_id=%s reason=%s", action_id, claim.reason)
        if action.status == "succeeded":
            return succeeded(action_id, action.result)
        return failed(action_id, action.error or f"not executed: {claim.reason}")

    error: str | None = None
    result: dict[str, Any] | None = None
    try:
        if action.type == "refund":
            result = ctx.step.invoke(
                "process-refund", function=process_refund, data={ACTION_ID_FIELD: action_id}
            )
        else:
            ran = run_step(ctx, "run-action", run_action, action, out=ActionRun)
            if ran.error is not None:
                error = ran.error
            else:
                result = ran.result()
    except inngest.StepError as exc:
        error = exc.message or exc.name

    if error is not None or not isinstance(result, dict):
        error = error or "the action returned no result"
        ctx.step.run("record-failure", actions.record_failure, action_id, error)
        return failed(action_id, error)

    ctx.step.run("record-result", actions.record_success, action_id, result)
    if action.draft_body and action.requires_approval:
        try:
            ctx.step.run("create-draft", create_action_draft, action)
        except inngest.StepError as exc:  # the action is done; the reply can be written by hand
            ctx.logger.error("action.draft_failed action_id=%s error=%s", action_id, exc.message)
    return succeeded(action_id, result)


def succeeded(action_id: str, result: dict[str, Any] | None) -> dict[str, Any]:
    return ExecutionOutcome(
        action_id=action_id, status="succeeded", result=result, error=None
    ).dump()


def failed(action_id: str, error: str) -> dict[str, Any]:
    return ExecutionOutcome(action_id=action_id, status="failed", result=None, error=error).dump()
