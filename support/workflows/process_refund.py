"""``process-refund``: the integration's ``revoke-access``, then ``stripe/refund.completed``.

Invoked by ``execute-action`` (``step.invoke``, ``data = {actionId}``); the trigger event
``support/refund.process`` exists only because every function needs one. The parameters are read
from the database (the action merged with the approver's edits), not from the caller.

``revoke-access`` carries ``Idempotency-Key: <action id>`` and a deterministic body, so a step retried
after the integration applied the refund (the answer timed out) gets the stored result and refunds
nothing twice. A refused refund (404, 409, bad amount) fails this run at once (no retries) with the
integration's message; ``execute-action`` records it on the action.
"""

from __future__ import annotations

from typing import Any

import inngest

from support import actions
from support.events import ProcessRefundRequested, RefundCompleted
from support.integrations import IntegrationAuthError, IntegrationRejected
from support.results import Refund, run_step
from support.workflows.failures import event_function
from support.workflows.inbound_steps import integration_for, load_app


def revoke_access(action_id: str) -> dict[str, Any]:
    action = actions.effective_action(action_id)
    if action.type != "refund":
        raise inngest.NonRetriableError(f"action {action_id} is a {action.type}, not a refund")
    params = action.parameters
    purchase_id, reason = params.get("purchase_id"), params.get("reason")
    amount = params.get("amount")
    if not isinstance(purchase_id, str) or not purchase_id or not isinstance(reason, str):
        raise inngest.NonRetriableError(f"action {action_id}: purchase_id and reason are required")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise inngest.NonRetriableError(f"action {action_id}: amount must be whole cents")
    client = integration_for(load_app(action.app_id))
    try:
        answer = client.revoke_access(
            purchase_id=purchase_id, reason=reason, amount=amount, idempotency_key=action_id
        )
    except (IntegrationRejected, IntegrationAuthError) as exc:
        raise inngest.NonRetriableError(f"refund refused: {exc}") from exc
    return Refund(
        refund_id=answer["refund_id"],
        amount=answer.get("amount"),
        currency=answer.get("currency"),
        status=answer.get("status"),
        purchase_id=purchase_id,
        conversation_id=action.conversation_id,
    ).dump()


@event_function(ProcessRefundRequested, fn_id="process-refund", retries=4)
def process_refund(ctx: inngest.ContextSync) -> dict[str, Any]:
    action_id = ProcessRefundRequested.parse(ctx.event.data).action_id

    refund = run_step(ctx, "revoke-access", revoke_access, action_id, out=Refund)
    completed = RefundCompleted(
        action_id=action_id,
        refund_id=refund.refund_id,
        amount=refund.amount,
        currency=refund.currency,
        conversation_id=refund.conversation_id,
    )
    ctx.step.send_event(
        "send-refund-completed", completed.to_event(event_id=f"refund-completed-{action_id}")
    )
    return refund.dump()
