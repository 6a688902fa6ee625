"""The agent: a Claude tool loop that reads context, drafts a reply and *proposes* actions.

``run(...)`` imports ``anthropic`` when it is called (the import costs about a second), runs the
loop with a cap on turns and tokens, executes read-only tools against the app's integration API
(guarded: only the sender's own account) and records risky tools as a proposal only. Workflows call
``take_turn`` once per durable step and ``finish`` at the end. The result is a plain ``AgentResult``
(``to_json()`` it to return it from a step).
"""

from support.agent.loop import (
    AgentConfigError,
    AgentError,
    AgentUnavailable,
    Model,
    finish,
    model_client,
    run,
    stopped,
    take_turn,
)
from support.agent.result import AgentResult, ProposedAgentAction, Usage

__all__ = [
    "AgentConfigError",
    "AgentError",
    "AgentResult",
    "AgentUnavailable",
    "Model",
    "ProposedAgentAction",
    "Usage",
    "finish",
    "model_client",
    "run",
    "stopped",
    "take_turn",
]
