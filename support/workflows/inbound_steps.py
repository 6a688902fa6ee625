"""The step bodies of ``handle-inbound-message`` (plain functions: JSON in, JSON out, no Flask).

Each opens its own short database session and its own API clients; nothing is kept across steps.
Errors are translated into what Inngest should do: ``NonRetriableError`` for configuration
problems, ``RetryAfterError`` for Front's 429, anything else is retried.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import inngest

from support import actions, apps, audit, drafts, policy
from support import agent as agent_module
from support.config import current
from support.db.models import App
from support.events import InboundReceived
from support.front import FrontClient, FrontConfigError, FrontError, FrontRateLimited, Message
from support.integrations import IntegrationClient, IntegrationError

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


def sender_address(raw_message: Any) -> str | None:
    """Who sent the message: its ``from`` recipient as Front reports it (never ``reply-to``).

    ``Message.customer_email`` is where the answer goes (``reply-to`` first); the customer's
    *identity*, whose account the agent may read, is the sender.
    """
    if not isinstance(raw_message, dict):
        return None
    for r in raw_message.get("recipients") or []:
        if isinstance(r, dict) and r.get("role") == "from" and isinstance(r.get("handle"), str):
            handle = r["handle"].strip()
            return handle or None
    return None


def read_inbound(front: FrontClient, message_id: str) -> tuple[Message, str | None]:
    """The message and its sender, from one ``GET /messages/{id}``."""
    # Message.parse keeps the reply address only; the raw body still has the `from` recipient.
    raw = front._request("GET", f"/messages/{message_id}")
    return Message.parse(raw), sender_address(raw)


def read_recent(
    front: FrontClient, conversation_id: str
) -> tuple[list[Message], dict[str, str | None]]:
    """The newest ``HISTORY_LIMIT`` messages (one page, newest first) and each one's sender."""
    body = front._request("GET", f"/conversations/{conversation_id}/messages?limit={HISTORY_LIMIT}")
    raw = body.get("_results") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        raise FrontError("Front answered an unexpected shape: messages._results is not a list")
    messages = [Message.parse(m) for m in raw]
    return messages, {m.id: sender_address(r) for m, r in zip(messages, raw, strict=True)}


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
                message, sender = read_inbound(front, event.message_id)
            except FrontError as exc:
                front_call_failed(exc)
                degraded.append(f"front: {exc}")
            recent, senders = read_recent(front, event.conversation_id)
        if message is None:  # the single read failed: the listing has Front's copy too
            message = next((m for m in recent if m.id == event.message_id), None)
            sender = senders.get(event.message_id) if message is not None else None
        if message is not None:
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

    context = {
        "appId": app.id,
        "appName": app.name,
        "conversationId": event.conversation_id,
        "messageId": event.message_id,
        "inboxId": event.inbox_id,
        "frontEventId": event.front_event_id,
        "subject": subject,
        "message": text[:TEXT_LIMIT],
        "customerEmail": email,  # where the reply goes
        "senderEmail": sender,  # who the customer is (None: unconfirmed)
        "history": list(reversed(history)),  # oldest first, as a human reads it
        "outboundStreak": outbound_streak,
        "user": user,
        "purchases": purchases,
        "degraded": bool(degraded),
        "degradedReasons": degraded,
    }
    if degraded:
        audit.append(
            "context.degraded",
            actor="agent",
            conversation_id=event.conversation_id,
            detail={"reasons": degraded, "messageId": event.message_id},
        )
    return context


def _normalise(text: str) -> str:
    first = re.split(r"\n\s*\n|\n--\s*\n|\nOn .+ wrote:", text.strip(), maxsplit=1)[0]
    return re.sub(r"[^a-z ]+", "", first.lower()).strip()


def rule_violation(context: dict[str, Any]) -> str | None:
    email = context.get("customerEmail") or ""
    local = email.split("@", 1)[0]
    if email and NOREPLY.match(local):
        return f"sender {email} is an automated address"
    words = _normalise(str(context.get("message") or ""))
    if words in ACKNOWLEDGEMENTS:
        return "bare acknowledgement, nothing to answer"
    if int(context.get("outboundStreak") or 0) >= REPLY_LOOP_LIMIT:
        return f"{REPLY_LOOP_LIMIT} replies in a row with no new customer message"
    return None


def check_rules(context: dict[str, Any]) -> dict[str, Any]:
    reason = rule_violation(context)
    if reason:
        audit.append(
            "inbound.skipped",
            actor="rules",
            conversation_id=context["conversationId"],
            detail={"reason": reason, "messageId": context["messageId"]},
        )
    return {"stop": reason is not None, "reason": reason}


def _agent_context(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if k not in ("appId", "frontEventId")}


def agent_turn(context: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any]:
    """One model call and the tools it asked for (``agent-turn-N``); refusals go to the audit log."""
    config = current()
    app = load_app(int(context["appId"]))
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
    for refusal in turn["refused"]:
        audit.append(
            "agent.tool_refused",
            actor="agent",
            conversation_id=context["conversationId"],
            detail={**refusal, "messageId": context["messageId"], "turn": turn["turn"]},
        )
        log.warning(
            "agent.tool_refused conversation_id=%s tool=%s reason=%s",
            context["conversationId"],
            refusal["tool"],
            refusal["reason"],
        )
    return turn


def agent_reasoning(context: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any]:
    """The decision from the run's turns; the run's tokens go to the audit log and the logs."""
    config = current()
    app = load_app(int(context["appId"]))
    result = agent_module.finish(
        _agent_context(context),
        turns,
        approval_required=app.approval_required,
        max_turns=config.agent_max_turns,
        model=config.anthropic_model,
    )
    usage = result.usage()
    audit.append(
        "agent.completed",
        actor="agent",
        conversation_id=context["conversationId"],
        detail={
            **usage,
            "messageId": context["messageId"],
            "stopReason": result.stop_reason,
            "action": result.action.type if result.action else None,
            "refusals": len(result.refusals),
        },
    )
    log.info(
        "agent.usage conversation_id=%s model=%s turns=%d input=%d output=%d cache_read=%d "
        "cache_write=%d stop_reason=%s",
        context["conversationId"],
        result.model,
        result.turns,
        result.input_tokens,
        result.output_tokens,
        result.cache_read_input_tokens,
        result.cache_creation_input_tokens,
        result.stop_reason,
    )
    return result.to_json()


def account_owner(context: dict[str, Any]) -> str | None:
    """Whose account an action touches: the confirmed sender, else the reply address."""
    return context.get("senderEmail") or context.get("customerEmail")


def create_action(run_id: str, context: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    proposed = decision["action"]
    return actions.create(
        action_id=actions.action_id_for(f"inbound:{run_id}"),
        conversation_id=context["conversationId"],
        app_id=int(context["appId"]),
        action_type=proposed["type"],
        parameters=proposed.get("parameters") or {},
        requires_approval=bool(proposed.get("requiresApproval", True)),
        reasoning=decision.get("reasoning") or "",
        draft_body=decision.get("draftBody"),
        customer_email=account_owner(context),
        context_degraded=bool(context.get("degraded")),
        approval_timeout_hours=current().approval_timeout_hours,
        usage=decision_usage(decision),
    )


def decision_usage(decision: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "model",
        "turns",
        "inputTokens",
        "outputTokens",
        "cacheReadInputTokens",
        "cacheCreationInputTokens",
    )
    return {k: decision.get(k) for k in keys}


def create_draft(context: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    try:
        with FrontClient.from_config(current()) as front:
            return drafts.create_once(
                front,
                key=f"inbound:{context['frontEventId']}",
                conversation_id=context["conversationId"],
                body=decision["draftBody"],
                app_id=int(context["appId"]),
                inbox_id=context.get("inboxId"),
                category=decision.get("category"),
                confidence=decision.get("confidence"),
            )
    except FrontError as exc:
        front_call_failed(exc)
        raise


def auto_send_gate(context: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    allowed, reason = policy.may_auto_send(
        int(context["appId"]), decision.get("category"), decision.get("confidence")
    )
    if allowed and context.get("degraded"):
        allowed, reason = False, "context was degraded"
    sender = (context.get("senderEmail") or "").strip().casefold()
    reply_to = (context.get("customerEmail") or "").strip().casefold()
    if allowed and sender != reply_to:
        allowed, reason = False, "the reply goes to another address than the sender's"
    return {"allowed": allowed, "reason": reason}
