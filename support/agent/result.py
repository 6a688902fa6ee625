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


class Usage(BaseModel):
    """Tokens of a run, as the API reported them (``input`` excludes the cached parts)."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    def add(self, other: dict[str, Any]) -> None:
        for name in type(self).model_fields:
            value = other.get(name, other.get(to_camel(name)))
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, name, getattr(self, name) + value)

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_input_tokens
            + self.cache_creation_input_tokens
        )


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
    refusals: list[dict[str, Any]] = Field(default_factory=list)
    input_tokens: int = 0  # the run's ``Usage``, field by field (the step output is flat)
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    model: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def usage(self) -> dict[str, Any]:
        """The run's cost inputs (for the audit log and the logs)."""
        tokens = self.model_dump(by_alias=True, include=set(Usage.model_fields))
        return {"model": self.model, "turns": self.turns, **tokens}
