"""The agent's tool loop against the Anthropic fake (real SDK, real HTTP), integration fake for tools."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support import agent
from support.config import load
from support.integrations import IntegrationClient
from tests.conftest import ANTHROPIC_KEY, INTEGRATION_SECRET
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.integration import IntegrationFake

CONTEXT = {"message": "Please refund me, I bought it twice", "customerEmail": "a@example.com"}


@pytest.fixture
def claude() -> Iterator[AnthropicFake]:
    with AnthropicFake(api_key=ANTHROPIC_KEY) as fake:
        yield fake


@pytest.fixture
def integration() -> Iterator[IntegrationFake]:
    with IntegrationFake(secret=INTEGRATION_SECRET) as fake:
        yield fake


def run(
    claude: AnthropicFake,
    integration: IntegrationFake | None = None,
    *,
    approval_required: list[str] | None = None,
    **env: str,
) -> agent.AgentResult:
    config = load(
        {
            "INNGEST_DEV": "1",
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": claude.url,
            **env,
        }
    )
    client = IntegrationClient(integration.url, INTEGRATION_SECRET) if integration else None
    return agent.run(
        CONTEXT,
        config=config,
        app_name="Acme",
        approval_required=approval_required,
        integration=client,
    )


def test_tool_use_then_end_turn(claude: AnthropicFake, integration: IntegrationFake) -> None:
    user = integration.add_user("a@example.com")
    purchase = integration.add_purchase(user["id"])
    lookup_id = claude.reply_tool_use("lookup_user", {"email": "a@example.com"})
    claude.reply_tool_use("get_purchases", {"user_id": user["id"]})
    claude.reply_tool_use(
        "process_refund", {"purchase_id": purchase["id"], "reason": "dup", "amount": 4900}
    )
    claude.reply_tool_use(
        "draft_response", {"body": "On it.", "category": "refund", "confidence": 0.7}
    )
    claude.reply_text("Duplicate purchase; refund proposed.")

    result = run(claude, integration)

    assert result.stop_reason == "end_turn" and result.turns == 5
    assert result.draft_body == "On it." and result.category == "refund"
    assert result.confidence == 0.7
    assert result.action is not None
    assert result.action.type == "refund" and result.action.requires_approval
    assert result.action.parameters == {
        "purchase_id": purchase["id"],
        "reason": "dup",
        "amount": 4900,
    }
    assert result.reasoning == "Duplicate purchase; refund proposed."
    assert integration.refunds == []  # proposed, never executed by the loop
    # the tool result went back to the model, attached to its tool_use id
    second = claude.bodies[1]["messages"]
    assert second[1]["role"] == "assistant"
    tool_result = second[2]["content"][0]
    assert tool_result["tool_use_id"] == lookup_id and tool_result["is_error"] is False
    assert user["id"] in tool_result["content"]
    body = claude.bodies[0]
    assert body["model"] == "claude-sonnet-4-6" and body["max_tokens"] == 2048
    assert result.to_json()["action"]["requiresApproval"] is True


def test_policy_per_app_decides_approval(claude: AnthropicFake) -> None:
    claude.reply_tool_use("transfer_purchase", {"purchase_id": "pur_1", "to_email": "b@x.com"})
    claude.reply_text("ok")
    result = run(claude, approval_required=["refund"])
    assert result.action is not None and result.action.type == "transfer"
    assert result.action.requires_approval is False


def test_bad_tool_input_is_answered_as_a_tool_error(claude: AnthropicFake) -> None:
    claude.reply_tool_use("process_refund", {"purchase_id": "pur_1", "reason": "x", "amount": 1.5})
    claude.reply_text("gave up")
    result = run(claude)
    assert result.action is None
    tool_result = claude.bodies[1]["messages"][2]["content"][0]
    assert tool_result["is_error"] is True and "whole number" in tool_result["content"]


def test_turn_cap_stops_the_loop_and_escalates(claude: AnthropicFake) -> None:
    for _ in range(5):
        claude.reply_tool_use("lookup_user", {"email": "a@example.com"})
    result = run(claude, AGENT_MAX_TURNS="3")
    assert result.turns == 3 and result.stop_reason == "max_turns"
    assert len(claude.bodies) == 3
    assert result.action is not None and result.action.type == "escalate"
    assert result.action.requires_approval is False


@pytest.mark.parametrize("status", [429, 529])
def test_rate_limit_and_overload_are_retried_by_the_sdk(claude: AnthropicFake, status: int) -> None:
    claude.fail(status, times=2, retry_after=0.01)
    claude.reply_tool_use("draft_response", {"body": "Hello"})
    claude.reply_text("done")
    result = run(claude)
    assert result.draft_body == "Hello"
    assert len(claude.calls("POST /v1/messages")) == 4


def test_persistent_overload_is_agent_unavailable(claude: AnthropicFake) -> None:
    claude.fail(529, times=10, retry_after=0.01)
    with pytest.raises(agent.AgentUnavailable):
        run(claude)
    assert len(claude.calls("POST /v1/messages")) == 4  # 1 + MAX_RETRIES


def test_wrong_key_is_a_configuration_error(claude: AnthropicFake) -> None:
    config = load(
        {"INNGEST_DEV": "1", "ANTHROPIC_API_KEY": "sk-wrong", "ANTHROPIC_BASE_URL": claude.url}
    )
    with pytest.raises(agent.AgentConfigError, match="ANTHROPIC_API_KEY"):
        agent.run(CONTEXT, config=config, app_name="Acme", approval_required=None, integration=None)


def test_importing_the_agent_does_not_import_anthropic() -> None:
    import subprocess
    import sys

    code = "import support.agent, support.workflows, sys; print('anthropic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
