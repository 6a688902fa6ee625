"""What one agent run produced (plain JSON via ``model_dump(mode="json", by_alias=True)``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ProposedAgentAction(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = True


class AgentResult(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )
    reasoning: str = ""
    draft_body: str | None = None
    action: ProposedAgentAction | None = None
    category: str | None = None
    confidence: float | None = None
    turns: int = 0
    stop_reason: str = "end_turn"
    tools_used: list[str] = Field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
