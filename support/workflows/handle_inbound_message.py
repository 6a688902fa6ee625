"""``handle-inbound-message``: from a Front inbound message to a proposed action or a draft.

Trigger ``front/inbound_received``. One conversation at a time: throttled to one run start per
10 s per ``conversationId`` with ``burst=0`` (the server's GCRA admits ``limit + burst`` at once, so
the SDK's default burst of 1 would start two), paired with a concurrency limit of 1 on the same key.
Excess runs are queued, never dropped. Duplicate webhooks are stopped by the event id.

Steps: ``gather-context`` -> ``check-rules`` (stop with a recorded reason) -> ``agent-turn-1``,
``agent-turn-2``, ... (one model call each, with the tools it asked for: a failure in turn k retries
turn k only) -> ``agent-reasoning`` (the decision and the run's tokens) -> either ``create-action`` +
``support/approval.requested`` (needs approval), ``create-action`` + invoke ``execute-action`` (a
safe action; its reply is drafted here once it succeeded), and/or ``create-draft`` (+ maybe
``auto-send-draft``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from support import agent
from support.agent.result import AgentResult
from support.config import current
from support.events import (
    ACTION_ID_FIELD,
    ApprovalRequested,
    AutoSendRequested,
    InboundReceived,
    ProposedAction,
)
from support.results import (
    ActionRecord,
    AgentTurn,
    AutoSendGate,
    DraftRecord,
    ExecutionOutcome,
    InboundContext,
    RuleCheck,
    parse_output,
    run_step,
)
from support.workflows import inbound_steps as steps
from support.workflows.execute_action import execute_action
from support.workflows.failures import event_function

CONVERSATION_KEY = "event.data.conversationId"
MESSAGE_KEY = "event.data.messageId"
"""One run per Front message for 24 h, whatever the delivery (event) ids it arrives under."""


@event_function(
    InboundReceived,
    fn_id="handle-inbound-message",
    throttle=inngest.Throttle(
        key=CONVERSATION_KEY, limit=1, period=dt.timedelta(seconds=10), burst=0
    ),
    concurrency=[inngest.Concurrency(key=CONVERSATION_KEY, limit=1)],
    idempotency=MESSAGE_KEY,
    retries=4,
)
def handle_inbound_message(ctx: inngest.ContextSync) -> dict[str, Any]:
    event = InboundReceived.parse(ctx.event.data)

    context = run_step(ctx, "gather-context", steps.gather_context, event, out=InboundContext)
    rules = run_step(ctx, "check-rules", steps.check_rules, context, out=RuleCheck)
    if rules.stop:
        ctx.logger.info(
            "inbound.stopped conversation_id=%s reason=%s", event.conversation_id, rules.reason
        )
        return {"outcome": "skipped", "reason": rules.reason}

    turns: list[dict[str, Any]] = []
    while agent.stopped(turns, current().agent_max_turns) is None:
        step_id = f"agent-turn-{len(turns) + 1}"
        turn = run_step(ctx, step_id, steps.agent_turn, context, list(turns), out=AgentTurn)
        turns.append(turn.dump())
    decision = run_step(
        ctx, "agent-reasoning", steps.agent_reasoning, context, turns, out=AgentResult
    )
    out: dict[str, Any] = {"outcome": "nothing", "degraded": context.degraded}
    proposed = decision.action

    if proposed:
        action = run_step(
            ctx,
            "create-action",
            steps.create_action,
            ctx.run_id,
            context,
            decision,
            out=ActionRecord,
        )
        out = {**out, "actionId": action.action_id}
        if action.requires_approval:
            request = ApprovalRequested(
                action_id=action.action_id,
                conversation_id=event.conversation_id,
                app_id=event.app_id,
                action=ProposedAction(type=action.type, parameters=action.parameters),
                agent_reasoning=decision.reasoning,
                customer_email=context.account_owner(),
            )
            ctx.step.send_event(
                "request-approval",
                request.to_event(event_id=f"approval-requested-{action.action_id}"),
            )
            return {**out, "outcome": "approval_requested"}
        result = ctx.step.invoke(
            "execute-action", function=execute_action, data={ACTION_ID_FIELD: action.action_id}
        )
        out = {**out, "outcome": "action_executed", "execution": result}
        if parse_output("execute-action", result, ExecutionOutcome).status != "succeeded":
            return out  # no reply that tells the customer the action was done

    if decision.draft_body:
        draft = run_step(
            ctx, "create-draft", steps.create_draft, context, decision, out=DraftRecord
        )
        out = {
            **out,
            "outcome": out["outcome"] if proposed else "drafted",
            "frontDraftId": draft.front_draft_id,
        }
        gate = run_step(
            ctx, "auto-send-gate", steps.auto_send_gate, context, decision, out=AutoSendGate
        )
        if gate.allowed:
            ctx.step.send_event(
                "schedule-auto-send",
                AutoSendRequested(
                    conversation_id=event.conversation_id, draft_key=draft.key
                ).to_event(event_id=f"auto-send-{draft.key}"),
            )
            out["autoSend"] = True
    return out
