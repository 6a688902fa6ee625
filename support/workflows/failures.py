"""The failure handler: a run that exhausted its retries is recorded and shown to a person.

Every function that can fail for good registers ``on_failure=failures.on_failure``. Inngest then
runs ``<function id>-failure`` with the ``inngest/function.failed`` event, whose data holds
``function_id``, ``run_id``, the failed run's ``event`` and its ``error`` (``name``, ``message``).
Steps, top to bottom (each its own step: a replay repeats none of them)::

    record-failure     audit row ``function.failed``; the action (if any, and not finished) is
                       marked failed with the error
    close-approval     an approval request of that action still pending is expired (no run
                       waits for it any more) and its Slack message redrawn without buttons
    alert-slack        a post in SLACK_ALERT_CHANNEL (else SLACK_APPROVAL_CHANNEL)
    comment-in-front   for a conversation: a comment "the agent could not handle this
                       conversation: <why>" where the team works

``event_function`` declares a function triggered by an event with this handler attached.

Inngest gives failure handlers no retries, so the two notices catch their own errors (logged at
ERROR, returned in the step's output) and one failing never stops the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import inngest
from slack_sdk.errors import SlackApiError
from sqlalchemy import update

from support import approvals, audit, db, metrics
from support.config import current
from support.db.models import Action
from support.events import ACTION_ID_FIELD, EventData
from support.front import FrontClient
from support.front_errors import FrontError
from support.inngest_client import definitions
from support.results import ApprovalClosed, Failure, Notice, run_step

log = logging.getLogger(__name__)

APP_PREFIX = "support-agent-"
MAX_ERROR_CHARS = 1500
FINISHED = ("succeeded", "failed")


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def describe(data: Mapping[str, Any]) -> Failure:
    """The failure, from ``inngest/function.failed`` data."""
    fields = _dict(_dict(data.get("event")).get("data"))
    error = _dict(data.get("error"))
    message = str(error.get("message") or error.get("name") or "unknown error")
    function = str(data.get("function_id") or "unknown function").removeprefix(APP_PREFIX)
    conversation_id = fields.get("conversationId")
    action_id = fields.get(ACTION_ID_FIELD)
    return Failure(
        function=function,
        run_id=str(data.get("run_id") or ""),
        error=message[:MAX_ERROR_CHARS],
        conversation_id=conversation_id if isinstance(conversation_id, str) else None,
        action_id=action_id if isinstance(action_id, str) else None,
    )


def record_failure(failure: Failure) -> dict[str, Any]:
    """Audit row, and the action's status when the run was about one. Returns the failure with
    the conversation filled in from the action when the event did not name it."""
    conversation_id = failure.conversation_id
    action_id = failure.action_id
    marked: str | None = None
    with db.session() as s:
        # One conditional UPDATE first: of this handler and the executor recording the same
        # failure, exactly one moves the action to failed (and counts it).
        moved = (
            s.connection()
            .execute(
                update(Action)
                .where(Action.id == action_id, Action.status.not_in(FINISHED))
                .values(status="failed", error=failure.error)
            )
            .rowcount
            if action_id
            else 0
        )
        action = s.get(Action, action_id) if action_id else None
        if action is not None:
            conversation_id = conversation_id or action.conversation_id
            if moved:
                marked = action.type
        audit.append_in(
            s,
            "function.failed",
            actor="inngest",
            action_id=action_id if action is not None else None,
            conversation_id=conversation_id[:64] if conversation_id else None,
            detail=failure.model_dump(
                mode="json", by_alias=True, include={"function", "run_id", "error", "action_id"}
            ),
        )
    if marked is not None:  # whichever path marks an action failed counts it, once
        metrics.execution(marked, "failed")
    return failure.model_copy(update={"conversation_id": conversation_id}).dump()


def close_approval(action_id: str) -> dict[str, Any]:
    """A pending approval whose run gave up: expire it and take its buttons away, so nobody
    approves a request that nothing will execute. Returns what was done."""
    from slack.messages import slack_client, update_message

    outcome = approvals.expire(action_id)
    if not outcome.won or outcome.record is None:
        return ApprovalClosed(expired=False).dump()
    try:
        redrawn = update_message(slack_client(), outcome.record)
    except (SlackApiError, OSError) as exc:
        log.exception("failure.redraw_failed action_id=%s", action_id)
        return ApprovalClosed(expired=True, redrawn=False, error=str(exc)[:300]).dump()
    return ApprovalClosed(expired=True, redrawn=redrawn).dump()


def alert_slack(failure: Failure) -> dict[str, Any]:
    config = current()
    channel = config.slack_alert_channel or config.slack_approval_channel
    if not channel:
        log.error("failure.alert_skipped reason=no channel failure=%s", failure.dump())
        error = "no SLACK_ALERT_CHANNEL or SLACK_APPROVAL_CHANNEL"
        return Notice(posted=False, error=error).dump()
    from slack.messages import web_client

    lines = [f":warning: *{failure.function}* failed after its retries: {failure.error}"]
    if failure.conversation_id:
        lines.append(f"Conversation: `{failure.conversation_id}`")
    if failure.action_id:
        lines.append(f"Action: `{failure.action_id}` (marked failed, nothing more will happen)")
    lines.append(f"Inngest run: `{failure.run_id}`")
    try:
        answer = web_client(config).chat_postMessage(
            channel=channel, text="\n".join(lines), unfurl_links=False
        )
    except (SlackApiError, OSError) as exc:
        log.exception("failure.alert_failed channel=%s failure=%s", channel, failure.dump())
        return Notice(posted=False, error=str(exc)[:300]).dump()
    return Notice(posted=True, channel=channel, ts=str(answer.get("ts"))).dump()


def comment_in_front(failure: Failure) -> dict[str, Any]:
    body = (
        f"The agent could not handle this conversation: {failure.error} "
        f"(support-agent {failure.function}, run {failure.run_id}). Please handle it by hand."
    )
    try:
        with FrontClient.from_config(current()) as front:
            comment_id = front.comment(failure.conversation_id or "", body)
    except FrontError as exc:
        log.exception("failure.comment_failed failure=%s", failure.dump())
        return Notice(commented=False, error=str(exc)[:300]).dump()
    return Notice(commented=True, comment_id=comment_id).dump()


def on_failure(ctx: inngest.ContextSync) -> dict[str, Any]:
    failure = run_step(ctx, "record-failure", record_failure, describe(ctx.event.data), out=Failure)
    ctx.logger.error(
        "function.failed function=%s run_id=%s conversation_id=%s action_id=%s error=%s",
        failure.function,
        failure.run_id,
        failure.conversation_id,
        failure.action_id,
        failure.error,
    )
    closed = None
    if failure.action_id:
        closed = run_step(
            ctx, "close-approval", close_approval, failure.action_id, out=ApprovalClosed
        ).dump()
    slack = run_step(ctx, "alert-slack", alert_slack, failure, out=Notice).dump()
    front = None
    if failure.conversation_id:
        front = run_step(ctx, "comment-in-front", comment_in_front, failure, out=Notice).dump()
    return {"failure": failure.dump(), "approval": closed, "slack": slack, "front": front}


def event_function(
    event: type[EventData], *, fn_id: str, **options: Any
) -> Callable[[Callable[[inngest.ContextSync], Any]], inngest.Function[Any]]:
    """``create_function`` for a function run by ``event`` whose failures go to ``on_failure``
    (``options``: the SDK's others, e.g. ``retries``)."""
    return definitions.create_function(
        fn_id=fn_id,
        trigger=inngest.TriggerEvent(event=event.NAME),
        on_failure=on_failure,
        **options,
    )
