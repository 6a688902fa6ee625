"""The tool loop: call Claude, run the tools it asks for, stop on ``end_turn`` or a cap.

Caps: ``config.agent_max_turns`` model calls, ``config.agent_max_tokens`` per call, and
``TOKEN_BUDGET`` tokens (input + output) for the whole loop. Hitting a cap is not an error: the
result says ``stopReason: "max_turns"`` / ``"token_budget"``, and if nothing was drafted or proposed
the conversation is escalated to a human.

Errors: the SDK retries 408/409/429/5xx (529 overloaded included) ``MAX_RETRIES`` times itself;
what is left becomes ``AgentUnavailable`` (retry the step), ``AgentConfigError`` (401/403: fix
``ANTHROPIC_API_KEY``) or ``AgentError`` (a request the API refuses).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from support import metrics, policy
from support.agent import tools
from support.agent.result import AgentResult, ProposedAgentAction
from support.config import Config
from support.integrations import IntegrationClient

log = logging.getLogger(__name__)

MAX_RETRIES = 3
TOKEN_BUDGET = 200_000
TIMEOUT_SECONDS = 120.0

SYSTEM_PROMPT = """You are the support agent for {app_name}. You answer customers by email.

Work like this:
1. Read the customer's message and the recent conversation in the context.
2. If you need account data, use lookup_user and get_purchases.
3. Write the reply with draft_response (Markdown, friendly, concise, signed "The {app_name} team").
   Give a category and your confidence (0-1) that the reply needs no human edit.
4. If the customer needs a refund, a transfer or an instructor, PROPOSE it with the matching tool.
   Proposals are reviewed by a person before anything happens: never tell the customer it is done.
5. If you are unsure, or the customer is angry or mentions legal action, use escalate_to_human.
Propose at most one action. Never invent purchases, amounts or policies."""


class AgentError(Exception):
    """The model API refused the request (not worth retrying as is)."""


class AgentUnavailable(AgentError):
    """Rate limited, overloaded or unreachable after the SDK's own retries: retry later."""


class AgentConfigError(AgentError):
    """401/403 from the model API: ANTHROPIC_API_KEY is missing or wrong."""


def render_context(context: dict[str, Any]) -> str:
    return (
        "Context of the conversation (JSON). The last inbound message is the one to answer.\n\n"
        + json.dumps(context, indent=1, default=str)
    )


def run(
    context: dict[str, Any],
    *,
    config: Config,
    app_name: str,
    approval_required: list[str] | None,
    integration: IntegrationClient | None,
    extra_instructions: str | None = None,
) -> AgentResult:
    """Run the loop on ``context`` (plain JSON: message, history, customer, user, purchases)."""
    if not config.anthropic_api_key:
        raise AgentConfigError("ANTHROPIC_API_KEY is not set: the agent cannot run")
    import anthropic  # deferred: ~1 s of import time, paid only where the agent runs

    with anthropic.Anthropic(
        api_key=config.anthropic_api_key,
        base_url=config.anthropic_base_url or None,
        max_retries=MAX_RETRIES,
        timeout=TIMEOUT_SECONDS,
    ) as client:
        return _loop(
            client,
            anthropic,
            context,
            config,
            app_name,
            approval_required,
            integration,
            extra_instructions,
        )


def _loop(
    client: Any,
    anthropic: Any,
    context: dict[str, Any],
    config: Config,
    app_name: str,
    approval_required: list[str] | None,
    integration: IntegrationClient | None,
    extra_instructions: str | None,
) -> AgentResult:
    system = SYSTEM_PROMPT.format(app_name=app_name)
    if extra_instructions:
        system += "\n\n" + extra_instructions
    messages: list[dict[str, Any]] = [{"role": "user", "content": render_context(context)}]
    state = tools.ToolState(integration=integration)
    texts: list[str] = []
    stop_reason = "max_turns"
    turns = input_tokens = output_tokens = 0
    while turns < config.agent_max_turns:
        if input_tokens + output_tokens >= TOKEN_BUDGET:
            stop_reason = "token_budget"
            break
        turns += 1
        try:
            response = client.messages.create(
                model=config.anthropic_model,
                max_tokens=config.agent_max_tokens,
                system=system,
                tools=tools.TOOLS,
                messages=messages,
            )
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            raise AgentConfigError(
                f"the model API refused our key ({exc.status_code}): check ANTHROPIC_API_KEY"
            ) from exc
        except (
            anthropic.RateLimitError,
            anthropic.InternalServerError,
            anthropic.APIConnectionError,
        ) as exc:
            raise AgentUnavailable(f"the model API is unavailable: {exc}") from exc
        except anthropic.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in (408, 409, 429):
                raise AgentUnavailable(f"the model API failed ({exc.status_code})") from exc
            raise AgentError(
                f"the model API refused the request ({exc.status_code}): {exc.message}"
            ) from exc
        metrics.model_call(config.anthropic_model, response.usage)
        input_tokens += response.usage.input_tokens
        output_tokens += response.usage.output_tokens
        content = [block.model_dump(mode="json", exclude_none=True) for block in response.content]
        texts.extend(b.get("text", "") for b in content if b.get("type") == "text")
        messages.append({"role": "assistant", "content": content})
        if response.stop_reason != "tool_use":
            stop_reason = str(response.stop_reason or "end_turn")
            break
        results = []
        for block in content:
            if block.get("type") != "tool_use":
                continue
            output, is_error = tools.handle(state, str(block.get("name")), block.get("input"))
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": block.get("id"),
                    "content": output,
                    "is_error": is_error,
                }
            )
        if not results:
            stop_reason = "tool_use_without_tools"
            break
        messages.append({"role": "user", "content": results})
    return _result(state, texts, approval_required, turns, stop_reason, input_tokens, output_tokens)


def _result(
    state: tools.ToolState,
    texts: list[str],
    approval_required: list[str] | None,
    turns: int,
    stop_reason: str,
    input_tokens: int,
    output_tokens: int,
) -> AgentResult:
    reasoning = "\n\n".join(t.strip() for t in texts if t.strip())
    action: ProposedAgentAction | None = None
    if state.action_type is not None:
        action = ProposedAgentAction(
            type=state.action_type,
            parameters=state.action_parameters,
            requires_approval=policy.requires_approval(approval_required, state.action_type),
        )
    elif state.draft_body is None and stop_reason not in ("end_turn", "stop_sequence"):
        action = ProposedAgentAction(
            type="escalate",
            parameters={
                "reason": f"the agent stopped ({stop_reason}) without a reply",
                "urgency": "normal",
            },
            requires_approval=False,
        )
    if stop_reason not in ("end_turn", "stop_sequence"):
        log.warning("agent.capped stop_reason=%s turns=%d", stop_reason, turns)
    return AgentResult(
        reasoning=reasoning,
        draft_body=state.draft_body,
        action=action,
        category=state.category or (state.action_type if state.action_type else None),
        confidence=state.confidence,
        turns=turns,
        stop_reason=stop_reason,
        tools_used=state.used,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    )
