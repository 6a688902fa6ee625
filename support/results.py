"""Step outputs: one pydantic model per ``ctx.step.run`` result, the way ``events.EventData`` types
the events.

A step function builds its model and returns ``Model(...).dump()`` (plain JSON with camelCase keys,
which is what Inngest memoises); the workflow reads it back through ``run_step(ctx, "step-id", fn,
*args, out=Model)``, which validates it. A misspelt field is a type error under mypy, and a memoised
value of another shape (an older deploy's) stops the run with a ``NonRetriableError`` that names the
step instead of turning into ``None`` further down.

Wire shapes are those of the dicts these models replaced (same keys, same camelCase), so runs that
started before a deploy replay from their memo. Unknown keys are kept (``extra="allow"``).

The models live outside ``support.workflows`` because ``support.actions`` and ``support.drafts`` build
them too (importing the workflows package would load every function).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar

import inngest
from pydantic import BaseModel, ValidationError

from support.events import EventData


class StepOutput(BaseModel):
    """Base of every step output: snake_case in Python, camelCase on the wire, unknown keys kept."""

    model_config = EventData.model_config  # the same wire conventions as the events
    OMIT_NONE: ClassVar[bool] = False
    """True for outputs whose absent keys were absent (not ``null``) in the dicts they replace."""

    def dump(self) -> dict[str, Any]:
        """The plain JSON a step returns (and Inngest memoises)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=self.OMIT_NONE)


M = TypeVar("M", bound=BaseModel)


def parse_output(step_id: str, raw: Any, out: type[M]) -> M:
    """``raw`` (a step's memoised output) as ``out``; another shape can not succeed on a retry."""
    try:
        return out.model_validate(raw)
    except ValidationError as exc:
        raise inngest.NonRetriableError(
            f"step {step_id} returned an unexpected {out.__name__}: {exc}"
        ) from exc


def run_step(
    ctx: inngest.ContextSync,
    step_id: str,
    fn: Callable[..., Any],
    *args: Any,
    out: type[M],
) -> M:
    """``ctx.step.run(step_id, fn, *args)``, its output validated as ``out``."""
    return parse_output(step_id, ctx.step.run(step_id, fn, *args), out)


# --- handle-inbound-message ----------------------------------------------------------------------


class InboundContext(StepOutput):
    """``gather-context``: what the agent and the rules see."""

    app_id: int
    app_name: str
    conversation_id: str
    message_id: str
    inbox_id: str | None
    front_event_id: str
    subject: str | None
    message: str
    customer_email: str | None
    """Where the reply goes (``reply-to`` first)."""
    sender_email: str | None
    """Who the customer is (the ``from`` address; None: unconfirmed)."""
    history: list[dict[str, Any]]
    outbound_streak: int
    user: dict[str, Any] | None
    purchases: list[dict[str, Any]]
    degraded: bool
    degraded_reasons: list[str]

    def account_owner(self) -> str | None:
        """Whose account an action touches: the confirmed sender, else the reply address."""
        return self.sender_email or self.customer_email


class RuleCheck(StepOutput):
    """``check-rules``."""

    stop: bool
    reason: str | None


class AgentTurn(StepOutput):
    """``agent-turn-N``: one model call and its tools (the agent reads the rest as plain JSON)."""

    turn: int
    refused: list[dict[str, Any]]
    done: bool


class AutoSendGate(StepOutput):
    """``auto-send-gate``."""

    allowed: bool
    reason: str | None


# --- actions -------------------------------------------------------------------------------------


class ActionRecord(StepOutput):
    """An ``actions`` row (``create-action``)."""

    action_id: str
    conversation_id: str
    app_id: int
    type: str
    parameters: dict[str, Any]
    requires_approval: bool
    status: str
    reasoning: str | None
    draft_body: str | None
    customer_email: str | None
    """The account owner (the confirmed sender, else the reply address)."""
    context_degraded: bool
    result: dict[str, Any] | None
    error: str | None


class ApprovalSummary(StepOutput):
    status: str
    decided_by: str | None
    reason: str | None


class EffectiveAction(ActionRecord):
    """The action as it runs: parameters merged with the approver's edits."""

    approval: ApprovalSummary | None


class Claim(StepOutput):
    """``claim-action``."""

    claimed: bool
    reason: str | None
    action: EffectiveAction


class ExecutionOutcome(StepOutput):
    """What ``execute-action`` returns to its caller."""

    action_id: str
    status: Literal["succeeded", "failed"]
    result: dict[str, Any] | None
    error: str | None


class ActionRun(StepOutput):
    """``run-action``: the action's result (its keys are the extra fields), or a permanent error."""

    OMIT_NONE: ClassVar[bool] = True
    error: str | None = None

    def result(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Refund(StepOutput):
    """``revoke-access`` (and ``process-refund``'s output)."""

    refund_id: str
    amount: int | None
    currency: str | None
    status: str | None
    purchase_id: str
    conversation_id: str


# --- drafts --------------------------------------------------------------------------------------


class DraftRecord(StepOutput):
    """A ``drafts`` row (``create-draft``)."""

    key: str
    conversation_id: str
    front_draft_id: str | None
    channel_id: str | None
    status: str
    body: str | None
    category: str | None
    confidence: float | None


class Revision(StepOutput):
    """``revise-with-agent``."""

    draft_body: str
    reasoning: str
    conversation_id: str
    app_id: int


class DraftSend(StepOutput):
    """``send-draft``: ``sent`` with Front's message uid, or not with the reason."""

    OMIT_NONE: ClassVar[bool] = True
    sent: bool
    reason: str | None = None
    message_uid: str | None = None
    front_draft_id: str | None = None


class DraftDeletion(StepOutput):
    """``delete-draft``."""

    OMIT_NONE: ClassVar[bool] = True
    deleted: bool
    reason: str | None = None
    front_draft_id: str | None = None


# --- reconcile-decisions -------------------------------------------------------------------------


class Resend(StepOutput):
    """One decision event to send again (``find-unresolved`` returns a list of them)."""

    name: str
    data: dict[str, Any]
    id: str


# --- request-approval ----------------------------------------------------------------------------


class SlackPost(StepOutput):
    """``post-to-slack``: where the request is (``reposted``: a new message, not an adopted one)."""

    channel: str
    ts: str
    reposted: bool


class Resolution(StepOutput):
    """``resolve``: the request's final state, read from the row."""

    status: str
    decided_by: str | None
    reason: str | None
    expired_now: bool


class ShownOutcome(StepOutput):
    """``show-outcome``: what the Slack message now says about the execution."""

    status: str | None
    error: str | None


# --- failure handlers ----------------------------------------------------------------------------


class Failure(StepOutput):
    """``record-failure``: a run that exhausted its retries."""

    function: str
    run_id: str
    error: str
    conversation_id: str | None
    action_id: str | None


class ApprovalClosed(StepOutput):
    """``close-approval``."""

    OMIT_NONE: ClassVar[bool] = True
    expired: bool
    redrawn: bool | None = None
    error: str | None = None


class Notice(StepOutput):
    """``alert-slack`` (``posted``) and ``comment-in-front`` (``commented``): notices catch their
    own errors, so the output says whether it went out, and why not."""

    OMIT_NONE: ClassVar[bool] = True
    posted: bool | None = None
    commented: bool | None = None
    channel: str | None = None
    ts: str | None = None
    comment_id: str | None = None
    error: str | None = None
