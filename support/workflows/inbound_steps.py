"""The step bodies of ``handle-inbound-message`` (plain functions: JSON in, JSON out, no Flask).

Each opens its own short database session and its own API clients; nothing is kept across steps.
Errors are translated into what Inngest should do: ``NonRetriableError`` for configuration
problems, ``RetryAfterError`` for Front's 429, anything else is retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Protocol

import inngest

from support import actions, apps, audit, drafts, policy
from support import agent as agent_module
from support.agent.result import AgentResult
from support.config import current
from support.db.models import App
from support.events import InboundReceived
from support.front import FrontClient
from support.front_errors import FrontConfigError, FrontError, FrontRateLimited
from support.front_message import Message
from support.integrations import IntegrationClient, IntegrationError
from support.results import AgentTurn, AutoSendGate, DraftRecord, InboundContext, RuleCheck

log = logging.getLogger(__name__)

HISTORY_LIMIT = 10
TEXT_LIMIT = 4000
REPLY_LOOP_LIMIT = 3
NOREPLY = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?)([+.@-]|$)",
    re.IGNORECASE,
)
ACKNOWLEDGEMENTS = frozenset(
    {
        "thanks",
        "thank you",
        "thanks a lot",
        "thank you so much",
        "many thanks",
        "thx",
        "ty",
        "ok",
        "okay",
        "k",
        "got it",
        "great",
        "perfect",
        "cheers",
        "awesome",
        "ok thanks",
        "ok thank you",
        "great thanks",
        "thanks again",
        "noted",
        "sounds good",
    }
)


def front_call_failed(exc: FrontError) -> None:
    """Raise what Inngest must see for Front errors that must not be hidden as 'degraded'."""
    if isinstance(exc, FrontConfigError):
        raise inngest.NonRetriableError(str(exc)) from exc
    if isinstance(exc, FrontRateLimited):
        raise inngest.RetryAfterError(
            str(exc), dt.timedelta(seconds=max(exc.retry_after, 1.0))
        ) from exc


def load_app(app_id: int) -> App:
    app = apps.get(app_id)
    if app is None:
        raise inngest.NonRetriableError(f"app {app_id} is not registered (apps add)")
    return app


def integration_for(app: App) -> IntegrationClient:
    return IntegrationClient(
        app.integration_base_url,
        app.integration_secret,
        timeout=current().integration_timeout_seconds,
    )


EVENT_IDS = {"conversation_id", "message_id", "inbox_id", "front_event_id"}
"""What the context keeps of the event as it came (Front's ids of the message)."""


def gather_context(event: InboundReceived) -> dict[str, Any]:
    """Message, recent history, sender, app user and purchases; degraded when a source failed.

    The app user and purchases are read for the *sender* as Front reports it (``GET
    /messages/{id}``, else the message in the conversation's listing). When Front cannot be read
    at all the sender is unknown (the webhook's address may be a ``reply-to``): no account data.
    """
    config = current()
    app = load_app(event.app_id)
    degraded: list[str] = []
    text = event.message_body or ""
    subject = event.subject
    email = event.customer_email
    sender: str | None = None
    message: Message | None = None
    history: list[dict[str, Any]] = []
    outbound_streak = 0
    try:
        with FrontClient.from_config(config) as front:
            try:
                message = front.get_message(event.message_id)
            except FrontError as exc:
                front_call_failed(exc)
                degraded.append(f"front: {exc}")
            recent = front.conversation_messages(event.conversation_id, limit=HISTORY_LIMIT)
        if message is None:  # the single read failed: the listing has Front's copy too
            message = next((m for m in recent if m.id == event.message_id), None)
        if message is not None:
            sender = message.sender_email
            text = message.text or text
            subject = message.subject or subject
            email = message.customer_email or email
        for m in recent:
            if m.id == event.message_id:
                continue
            history.append({**m.to_json(), "text": m.text[:TEXT_LIMIT]})
        for m in recent:
            if m.id == event.message_id:
                continue
            if m.is_inbound:
                break
            outbound_streak += 1
    except FrontError as exc:
        front_call_failed(exc)
        degraded.append(f"front: {exc}")

    user: dict[str, Any] | None = None
    purchases: list[dict[str, Any]] = []
    if sender:
        try:
            client = integration_for(app)
            user = client.lookup_user(sender)
            if user is not None:
                purchases = client.get_purchases(str(user["id"]))
        except IntegrationError as exc:
            degraded.append(f"integration: {exc}")

    context = InboundContext(
        **event.model_dump(include=EVENT_IDS),
        app_id=app.id,
        app_name=app.name,
        subject=subject,
        message=text[:TEXT_LIMIT],
        customer_email=email,
        sender_email=sender,
        history=list(reversed(history)),  # oldest first, as a human reads it
        outbound_streak=outbound_streak,
        user=user,
        purchases=purchases,
        degraded=bool(degraded),
        degraded_reasons=degraded,
    )
    if degraded:
        _audit("context.degraded", "agent", context, {"reasons": degraded})
    return context.dump()


def _audit(name: str, actor: str, context: InboundContext, detail: dict[str, Any]) -> None:
    """An audit row about the inbound message (its id goes into the detail)."""
    audit.append(
        name,
        actor=actor,
        conversation_id=context.conversation_id,
        detail={**detail, "messageId": context.message_id},
    )


def _normalise(text: str) -> str:
    first = re.split(r"\n\s*\n|\n--\s*\n|\nOn .+ wrote:", text.strip(), maxsplit=1)[0]
    return re.sub(r"[^a-z ]+", "", first.lower()).strip()


def rule_violation(context: InboundContext) -> str | None:
    email = context.customer_email or ""
    local = email.split("@", 1)[0]
    if email and NOREPLY.match(local):
        return f"sender {email} is an automated address"
    words = _normalise(context.message)
    if words in ACKNOWLEDGEMENTS:
        return "bare acknowledgement, nothing to answer"
    if context.outbound_streak >= REPLY_LOOP_LIMIT:
        return f"{REPLY_LOOP_LIMIT} replies in a row with no new customer message"
    return None


def check_rules(context: InboundContext) -> dict[str, Any]:
    reason = rule_violation(context)
    if reason:
        _audit("inbound.skipped", "rules", context, {"reason": reason})
    return RuleCheck(stop=reason is not None, reason=reason).dump()


def _agent_context(context: InboundContext) -> dict[str, Any]:
    return context.model_dump(mode="json", by_alias=True, exclude={"app_id", "front_event_id"})


def agent_turn(context: InboundContext, turns: list[dict[str, Any]]) -> dict[str, Any]:
    """One model call and the tools it asked for (``agent-turn-N``); refusals go to the audit log."""
    config = current()
    app = load_app(context.app_id)
    try:
        with agent_module.model_client(config) as model:
            turn = agent_module.take_turn(
                model,
                config=config,
                context=_agent_context(context),
                app_name=app.name,
                turns=turns,
                integration=integration_for(app),
            )
    except agent_module.AgentUnavailable:
        raise  # retried by Inngest
    except agent_module.AgentError as exc:
        raise inngest.NonRetriableError(str(exc)) from exc
    checked = AgentTurn.model_validate(turn)
    for refusal in checked.refused:
        _audit("agent.tool_refused", "agent", context, {**refusal, "turn": checked.turn})
        log.warning(
            "agent.tool_refused conversation_id=%s tool=%s reason=%s",
            context.conversation_id,
            refusal.get("tool"),
            refusal.get("reason"),
        )
    return checked.dump()


def agent_reasoning(context: InboundContext, turns: list[dict[str, Any]]) -> dict[str, Any]:
    """The decision from the run's turns; the run's tokens go to the audit log and the logs."""
    config = current()
    app = load_app(context.app_id)
    result = agent_module.finish(
        _agent_context(context),
        turns,
        approval_required=app.approval_required,
        max_turns=config.agent_max_turns,
        model=config.anthropic_model,
    )
    usage = result.usage()
    _audit(
        "agent.completed",
        "agent",
        context,
        {
            **usage,
            "stopReason": result.stop_reason,
            "action": result.action.type if result.action else None,
            "refusals": len(result.refusals),
        },
    )
    log.info(
        "agent.usage conversation_id=%s model=%s turns=%d input=%d output=%d cache_read=%d "
        "cache_write=%d stop_reason=%s",
        context.conversation_id,
        result.model,
        result.turns,
        result.input_tokens,
        result.output_tokens,
        result.cache_read_input_tokens,
        result.cache_creation_input_tokens,
        result.stop_reason,
    )
    return result.to_json()


def create_action(run_id: str, context: InboundContext, decision: AgentResult) -> dict[str, Any]:
    proposed = decision.action
    if proposed is None:
        raise inngest.NonRetriableError("create-action without a proposed action")
    return actions.create(
        proposed,
        action_id=actions.action_id_for(f"inbound:{run_id}"),
        conversation_id=context.conversation_id,
        app_id=context.app_id,
        reasoning=decision.reasoning,
        draft_body=decision.draft_body,
        customer_email=context.account_owner(),
        context_degraded=context.degraded,
        approval_timeout_hours=current().approval_timeout_hours,
        usage=decision.usage(),
    )


def create_draft(context: InboundContext, decision: AgentResult) -> dict[str, Any]:
    return write_draft(
        f"inbound:{context.front_event_id}",
        context,
        decision.draft_body or "",
        inbox_id=context.inbox_id,
        category=decision.category,
        confidence=decision.confidence,
    ).dump()


class Conversation(Protocol):
    """What a draft is written for: a conversation of an app (the context, the action...)."""

    @property
    def conversation_id(self) -> str: ...

    @property
    def app_id(self) -> int: ...


def write_draft(key: str, where: Conversation, body: str, **fields: Any) -> DraftRecord:
    """``drafts.create_once`` on ``where``'s conversation, for its app, with its own Front client;
    Front's configuration errors and 429s become what Inngest must see, other failures retry the
    step. ``fields``: the draft's other columns (``action_id``, ``category``...)."""
    try:
        with FrontClient.from_config(current()) as front:
            record = drafts.create_once(
                front,
                key=key,
                conversation_id=where.conversation_id,
                body=body,
                app_id=where.app_id,
                **fields,
            )
            return DraftRecord.model_validate(record)
    except FrontError as exc:
        front_call_failed(exc)
        raise


def auto_send_gate(context: InboundContext, decision: AgentResult) -> dict[str, Any]:
    allowed, reason = policy.may_auto_send(context.app_id, decision.category, decision.confidence)
    if allowed and context.degraded:
        allowed, reason = False, "context was degraded"
    sender = (context.sender_email or "").strip().casefold()
    reply_to = (context.customer_email or "").strip().casefold()
    if allowed and sender != reply_to:
        allowed, reason = False, "the reply goes to another address than the sender's"
    return AutoSendGate(allowed=allowed, reason=reason).dump()
