"""What one agent run produced (plain JSON via ``model_dump(mode="json", by_alias=True)``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProposedAgentAction(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = Field(default=True, alias="requiresApproval")


class AgentResult(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    reasoning: str = ""
    draft_body: str | None = Field(default=None, alias="draftBody")
    action: ProposedAgentAction | None = None
    category: str | None = None
    confidence: float | None = None
    turns: int = 0
    stop_reason: str = Field(default="end_turn", alias="stopReason")
    tools_used: list[str] = Field(default_factory=list, alias="toolsUsed")
    input_tokens: int = Field(default=0, alias="inputTokens")
    output_tokens: int = Field(default=0, alias="outputTokens")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
