"""``revise-draft``: after a rejection, a new Front draft that takes the approver's reason into account.

Trigger ``support/draft.revise`` (``events.DraftRevisionRequested``: ``{actionId, reason}``), invoked
by the approval flow. Steps: ``revise-with-agent`` (the model gets the conversation, the rejected
proposal, the previous draft and the reason; it may only write a reply, proposals are ignored) ->
``create-draft`` (once per action: key ``revise:<action id>``).
"""

from __future__ import annotations

from typing import Any

import inngest

from support import actions, audit
from support import agent as agent_module
from support.config import current
from support.events import ACTION_ID_FIELD, DraftRevisionRequested
from support.front import FrontClient
from support.front_errors import FrontError
from support.results import DraftRecord, Revision, run_step
from support.workflows.failures import event_function
from support.workflows.inbound_steps import (
    front_call_failed,
    integration_for,
    load_app,
    write_draft,
)

INSTRUCTIONS = (
    "A person REJECTED the action you proposed earlier ({type} {parameters}) with this reason: "
    '"{reason}". Do not propose that action again. Write a revised reply with draft_response '
    "that takes the reason into account."
)


def revise_with_agent(action_id: str, reason: str) -> dict[str, Any]:
    action = actions.effective_action(action_id)
    app = load_app(action.app_id)
    context: dict[str, Any] = {
        "conversationId": action.conversation_id,
        "customerEmail": action.customer_email,
        # whose account the agent may read: the action's confirmed account owner (the sender)
        "senderEmail": action.customer_email,
        "rejectedAction": {"type": action.type, "parameters": action.parameters},
        "rejectionReason": reason,
        "previousReasoning": action.reasoning,
        "previousDraft": action.draft_body,
    }
    try:
        with FrontClient.from_config(current()) as front:
            recent = front.conversation_messages(action.conversation_id, limit=10)
        context["history"] = [m.to_json() for m in reversed(recent)]
    except FrontError as exc:
        front_call_failed(exc)
        context["degradedReasons"] = [f"front: {exc}"]
    try:
        result = agent_module.run(
            context,
            config=current(),
            app_name=app.name,
            approval_required=app.approval_required,
            integration=integration_for(app),
            extra_instructions=INSTRUCTIONS.format(
                type=action.type, parameters=action.parameters, reason=reason
            ),
        )
    except agent_module.AgentUnavailable:
        raise
    except agent_module.AgentError as exc:
        raise inngest.NonRetriableError(str(exc)) from exc
    if not result.draft_body:
        raise inngest.NonRetriableError(f"the agent wrote no revised draft for {action_id}")
    return Revision(
        draft_body=result.draft_body,
        reasoning=result.reasoning,
        conversation_id=action.conversation_id,
        app_id=action.app_id,
    ).dump()


def create_revised_draft(action_id: str, reason: str, revision: Revision) -> dict[str, Any]:
    draft = write_draft(f"revise:{action_id}", revision, revision.draft_body, action_id=action_id)
    audit.append(
        "draft.revised",
        actor="agent",
        action_id=action_id,
        conversation_id=revision.conversation_id,
        detail={"reason": reason, "frontDraftId": draft.front_draft_id},
    )
    return draft.dump()


@event_function(DraftRevisionRequested, fn_id="revise-draft", retries=3)
def revise_draft(ctx: inngest.ContextSync) -> dict[str, Any]:
    request = DraftRevisionRequested.parse(ctx.event.data)
    revision = run_step(
        ctx, "revise-with-agent", revise_with_agent, request.action_id, request.reason, out=Revision
    )
    draft = run_step(
        ctx,
        "create-draft",
        create_revised_draft,
        request.action_id,
        request.reason,
        revision,
        out=DraftRecord,
    )
    return {
        ACTION_ID_FIELD: request.action_id,
        "frontDraftId": draft.front_draft_id,
        "draftBody": revision.draft_body,
    }
