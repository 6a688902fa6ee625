"""Event names, their payload models and the expression that matches a decision to its request.

Every event is built and parsed through its model at both ends, so a field can not be renamed on one
side only. Every event stays far below Inngest's 256 KiB limit: free text is cut to a bound in the
model (UTF-8 safe), and the message carried in ``front/inbound_received`` is cut to
``MAX_MESSAGE_BODY_BYTES`` with ``messageBodyTruncated: true`` (the workflow reads the whole
message from Front). The approval wait and the decision events share one field name, ``ACTION_ID_FIELD``; the
wait's CEL expression is derived from it (``DECISION_MATCHES_REQUEST``), and the decision model is
built from the same constant, so the two can never drift.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

import inngest
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

ACTION_ID_FIELD = to_camel("action_id")
"""The one field that ties ``support/approval.decided`` to ``support/approval.requested``: the wire
name of the ``action_id`` field that both models declare (every field is camelCased the same way)."""

DECISION_MATCHES_REQUEST = f"event.data.{ACTION_ID_FIELD} == async.data.{ACTION_ID_FIELD}"
"""CEL ``if`` of the approval wait: ``event`` is the request, ``async`` the incoming decision."""


MAX_MESSAGE_BODY_BYTES = 16 * 1024
"""Of a customer's message, what ``front/inbound_received`` carries (the rest is read from Front)."""
MAX_TEXT_BYTES = 16 * 1024
"""Any other free text an event carries (a reason, the agent's reasoning)."""
MAX_SHORT_BYTES = 1024
"""A subject, an address, a name."""


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """``text`` cut to at most ``max_bytes`` of UTF-8 on a character boundary; (text, was cut)."""
    if len(text) * 4 <= max_bytes:
        return text, False
    raw = text.encode("utf-8", "replace")
    if len(raw) <= max_bytes:
        return text, False
    return raw[:max_bytes].decode("utf-8", "ignore"), True


def _bounded(max_bytes: int) -> AfterValidator:
    return AfterValidator(lambda text: truncate_utf8(text, max_bytes)[0])


Text = Annotated[str, _bounded(MAX_TEXT_BYTES)]
Short = Annotated[str, _bounded(MAX_SHORT_BYTES)]


class EventData(BaseModel):
    """Base of every payload: snake_case in Python, camelCase on the wire, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="allow",
        frozen=True,
    )
    NAME: ClassVar[str]

    def to_event(self, event_id: str | None = None) -> inngest.Event:
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return inngest.Event(name=self.NAME, data=data, id=event_id or "")

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Validate a run's event data. Bad data can never succeed on a retry, so it is a
        ``NonRetriableError`` naming the event and the fields, not a crash deep in a step."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise inngest.NonRetriableError(f"bad {cls.NAME} payload: {exc}") from exc


class InboundReceived(EventData):
    NAME: ClassVar[str] = "front/inbound_received"
    conversation_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)
    app_id: int
    inbox_id: str = Field(min_length=1)
    front_event_id: str = Field(min_length=1)
    subject: Short | None = None
    message_body: str | None = None
    message_body_truncated: bool | None = None
    """True when ``message_body`` is only the first ``MAX_MESSAGE_BODY_BYTES`` of the message
    (absent otherwise)."""
    customer_email: Short | None = None

    @model_validator(mode="before")
    @classmethod
    def _cap_message_body(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        key = "messageBody" if "messageBody" in data else "message_body"
        body = data.get(key)
        if not isinstance(body, str):
            return data
        capped, cut = truncate_utf8(body, MAX_MESSAGE_BODY_BYTES)
        if not cut:
            return data
        return {**data, key: capped, "messageBodyTruncated": True}


class OutboundSent(EventData):
    NAME: ClassVar[str] = "front/outbound_sent"
    conversation_id: str = Field(min_length=1)
    message_id: str = Field(min_length=1)


class ProposedAction(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: str
    parameters: dict[str, Any] = Field(default_factory=dict)


class ApprovalRequested(EventData):
    NAME: ClassVar[str] = "support/approval.requested"
    action_id: str = Field(min_length=1)
    conversation_id: str
    app_id: int
    action: ProposedAction
    agent_reasoning: Text = ""
    customer_email: Short | None = None


class ApprovalDecided(EventData):
    NAME: ClassVar[str] = "support/approval.decided"
    action_id: str = Field(min_length=1)
    decision: Literal["approved", "rejected"]
    decided_by: str
    decided_at: str
    reason: Text | None = None
    edits: dict[str, Any] | None = None

    @staticmethod
    def event_id(action_id: str) -> str:
        """Deterministic: a re-sent decision (reconciler, retried click) is deduplicated."""
        return f"approval-decided-{action_id}"


class ActionDecision(EventData):
    action_id: str = Field(min_length=1)
    by: str
    at: str
    reason: Text | None = None


class ActionApproved(ActionDecision):
    NAME: ClassVar[str] = "action/approved"


class ActionRejected(ActionDecision):
    NAME: ClassVar[str] = "action/rejected"


class RefundCompleted(EventData):
    NAME: ClassVar[str] = "stripe/refund.completed"
    action_id: str
    refund_id: str
    amount: int | None = None
    """Whole cents, as the integration API reports them."""
    currency: str | None = None
    conversation_id: str


class ExecuteActionRequested(EventData):
    """Trigger of ``execute-action`` (normally reached through ``step.invoke``)."""

    NAME: ClassVar[str] = "support/action.execute"
    action_id: str = Field(min_length=1)


class DraftRevisionRequested(EventData):
    """Trigger of ``revise-draft``: a rejected action's draft is rewritten with the reason."""

    NAME: ClassVar[str] = "support/draft.revise"
    action_id: str = Field(min_length=1)
    reason: Text = Field(min_length=1)


class AutoSendRequested(EventData):
    """Trigger of ``auto-send-draft``: send a trusted draft after a delay unless cancelled."""

    NAME: ClassVar[str] = "support/draft.auto_send"
    conversation_id: str = Field(min_length=1)
    draft_key: str = Field(min_length=1)


class ProcessRefundRequested(EventData):
    """Trigger of ``process-refund`` (reached through ``step.invoke`` from ``execute-action``)."""

    NAME: ClassVar[str] = "support/refund.process"
    action_id: str = Field(min_length=1)


class Ping(EventData):
    """Trigger of ``ping`` (``flask --app app inngest ping``): checks the loop end to end."""

    NAME: ClassVar[str] = "support/ping"
    requested_by: str = "cli"
