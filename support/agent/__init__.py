"""The agent: a Claude tool loop that reads context, drafts a reply and *proposes* actions.

``run(...)`` imports ``anthropic`` when it is called (the import costs about a second), runs the
loop with a cap on turns and tokens, executes read-only tools against the app's integration API and
records risky tools as a proposal only. The result is a plain ``AgentResult`` (``model_dump`` it to
return it from a step).
"""

from support.agent.loop import AgentConfigError, AgentError, AgentUnavailable, run
from support.agent.result import AgentResult, ProposedAgentAction

__all__ = [
    "AgentConfigError",
    "AgentError",
    "AgentResult",
    "AgentUnavailable",
    "ProposedAgentAction",
    "run",
]
