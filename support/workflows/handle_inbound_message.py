"""``handle-inbound-message``: from a Front inbound message to a proposed action or a draft.

Trigger ``front/inbound_received``. One conversation at a time: throttled to one run start per
10 s per ``conversationId`` with ``burst=0`` (the server's GCRA admits ``limit + burst`` at once, so
the SDK's default burst of 1 would start two), paired with a concurrency limit of 1 on the same key.
Excess runs are queued, never dropped. Duplicate webhooks are stopped by the event id.

Steps: ``gather-context`` -> ``check-rules`` (stop with a recorded reason) -> ``agent-turn-1``,
``agent-turn-2``, ... (one model call each, with the tools it asked for: a failure in turn k retries
turn k only) -> ``agent-reasoning`` (the decision and the run's tokens) -> either ``create-action`` +
``support/approval.requested`` (needs approval), ``create-action`` + invoke ``execute-action`` (a
safe action), and/or ``create-draft`` (+ maybe ``auto-send-draft``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from support import agent
from support.config import current
from support.events import (
    ACTION_ID_FIELD,
    ApprovalRequested,
    AutoSendRequested,
    InboundReceived,
    ProposedAction,
)
from support.inngest_client import definitions
from support.workflows import inbound_steps as steps
from support.workflows.execute_action import execute_action
from support.workflows.failures import on_failure

CONVERSATION_KEY = "event.data.conversationId"
MESSAGE_KEY = "event.data.messageId"
"""One run per Front message for 24 h, whatever the delivery (event) ids it arrives under."""


@definitions.create_function(
    fn_id="handle-inbound-message",
    trigger=inngest.TriggerEvent(event=InboundReceived.NAME),
    throttle=inngest.Throttle(
        key=CONVERSATION_KEY, limit=1, period=dt.timedelta(seconds=10), burst=0
    ),
    concurrency=[inngest.Concurrency(key=CONVERSATION_KEY, limit=1)],
    idempotency=MESSAGE_KEY,
    retries=4,
    on_failure=on_failure,
)
def handle_inbound_message(ctx: inngest.ContextSync) -> dict[str, Any]:
    event = InboundReceived.parse(ctx.event.data)

    context = ctx.step.run("gather-context", steps.gather_context, event)
    rules = ctx.step.run("check-rules", steps.check_rules, context)
    if rules["stop"]:
        ctx.logger.info(
            "inbound.stopped conversation_id=%s reason=%s", event.conversation_id, rules["reason"]
        )
        return {"outcome": "skipped", "reason": rules["reason"]}

    turns: list[dict[str, Any]] = []
    while agent.stopped(turns, current().agent_max_turns) is None:
        turn = ctx.step.run(f"agent-turn-{len(turns) + 1}", steps.agent_turn, context, list(turns))
        turns.append(turn)
    decision = ctx.step.run("agent-reasoning", steps.agent_reasoning, context, turns)
    out: dict[str, Any] = {"outcome": "nothing", "degraded": context["degraded"]}
    proposed = decision.get("action")

    if proposed and proposed.get("requiresApproval", True):
        action = ctx.step.run("create-action", steps.create_action, ctx.run_id, context, decision)
        request = ApprovalRequested(
            action_id=action[ACTION_ID_FIELD],
            conversation_id=event.conversation_id,
            app_id=event.app_id,
            action=ProposedAction(type=action["type"], parameters=action["parameters"]),
            agent_reasoning=decision.get("reasoning") or "",
            customer_email=steps.account_owner(context),
        )
        ctx.step.send_event(
            "request-approval",
            request.to_event(event_id=f"approval-requested-{action[ACTION_ID_FIELD]}"),
        )
        return {**out, "outcome": "approval_requested", "actionId": action[ACTION_ID_FIELD]}

    if proposed:
        action = ctx.step.run("create-action", steps.create_action, ctx.run_id, context, decision)
        result = ctx.step.invoke(
            "execute-action",
            function=execute_action,
            data={ACTION_ID_FIELD: action[ACTION_ID_FIELD]},
        )
        out = {
            **out,
            "outcome": "action_executed",
            "actionId": action[ACTION_ID_FIELD],
            "execution": result,
        }

    if decision.get("draftBody"):
        draft = ctx.step.run("create-draft", steps.create_draft, context, decision)
        out = {
            **out,
            "outcome": out["outcome"] if proposed else "drafted",
            "frontDraftId": draft["frontDraftId"],
        }
        gate = ctx.step.run("auto-send-gate", steps.auto_send_gate, context, decision)
        if gate["allowed"]:
            ctx.step.send_event(
                "schedule-auto-send",
                AutoSendRequested(
                    conversation_id=event.conversation_id, draft_key=draft["key"]
                ).to_event(event_id=f"auto-send-{draft['key']}"),
            )
            out["autoSend"] = True
    return out
