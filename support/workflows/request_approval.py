"""``request-approval``: post the request to Slack, wait for a human, act on what the DATABASE says.

Trigger: ``support/approval.requested`` (``ApprovalRequested``); one run per action
(``idempotency`` on ``event.data.actionId``). Steps, top to bottom::

    post-to-slack            Block Kit message with the buttons, tagged with the action id (message
                             metadata); channel + ts (+ expires_at) saved. A retry adopts a message
                             an earlier attempt posted but never heard back about
                             (conversations.history), instead of posting a second one
    check-decision           the row may already be decided (a click faster than the wait)
    wait-for-decision        support/approval.decided where data.actionId matches, until reminder time
    send-reminder            thread reply mentioning the approvers (skipped if decided meanwhile)
    wait-after-reminder      the rest of the timeout
    resolve                  re-read the row: still pending -> expired (atomic); mark resolved
    show-expired             the message says "Expired, no action taken", no buttons
    execute | revise-draft   invoke execute-action / revise-draft
    show-outcome             the message shows success with the result, or the failure

The decision event only wakes the run: what happens is decided by the row (``support.approvals``).
A wait only sees events sent after it was registered, so ``check-decision`` (and the reminder
step) skip the wait when the row is already decided; the tiny window between that read and the
wait's registration is covered by ``reconcile-decisions``, which re-announces decided but
unresolved rows, and at worst by the timeout, after which ``resolve`` reads the decision anyway.

Contracts with the agent workflow's functions (invoked by id, so this module does not import them):
``execute-action`` takes ``{"actionId"}`` and returns ``{"status": "succeeded"|"failed", "result",
"error", "actionId"}``; ``revise-draft`` takes ``{"actionId", "reason"}``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

import inngest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from slack import blocks
from slack.messages import slack_client, update_message, view_of
from support import approvals, audit
from support import config as config_module
from support.events import (
    ACTION_ID_FIELD,
    DECISION_MATCHES_REQUEST,
    ApprovalDecided,
    ApprovalRequested,
)
from support.results import (
    ExecutionOutcome,
    Resolution,
    ShownOutcome,
    SlackPost,
    parse_output,
    run_step,
)
from support.workflows.failures import event_function

log = logging.getLogger(__name__)

FN_ID = "request-approval"
EXECUTE_ACTION_FN_ID = "execute-action"
REVISE_DRAFT_FN_ID = "revise-draft"


def retry_after_seconds(headers: Any) -> int:
    """Slack's ``Retry-After`` (seconds), whatever the header's case; 1 when absent or unreadable."""
    for name, value in dict(headers or {}).items():
        if str(name).lower() == "retry-after":
            text = str(value[0] if isinstance(value, list) and value else value).strip()
            return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 1
    return 1


def _retry_on_rate_limit(exc: SlackApiError) -> Exception:
    if exc.response is not None and exc.response.status_code == 429:
        delay = retry_after_seconds(exc.response.headers)
        return inngest.RetryAfterError(f"Slack rate limit: {exc}", delay * 1000)
    return exc


REQUEST_EVENT_TYPE = "approval_request"
"""Slack message metadata ``event_type`` of a request message; its payload names the action."""
CLOCK_SKEW = dt.timedelta(minutes=5)
HISTORY_PAGES = 10


def request_metadata(action_id: str) -> dict[str, Any]:
    return {"event_type": REQUEST_EVENT_TYPE, "event_payload": {"action_id": action_id}}


def find_posted(client: WebClient, channel: str, action_id: str, since: dt.datetime) -> str | None:
    """The ts of a request message already posted for ``action_id`` (found by its metadata).

    A post can be applied by Slack and still fail here (answered after the client's timeout): a
    retried step looks before posting again, so no second message with live buttons appears.
    """
    oldest = (since - CLOCK_SKEW).replace(tzinfo=dt.UTC).timestamp()
    cursor = None
    for _ in range(HISTORY_PAGES):
        try:
            page = client.conversations_history(
                channel=channel,
                oldest=f"{max(oldest, 0):.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
        except SlackApiError as exc:
            if (exc.response or {}).get("error") != "missing_scope":
                raise
            # An install without channels:history / groups:history: a request that may post
            # twice beats a request never posted. The fix is to reinstall with the manifest.
            log.warning(
                "approval.history_unreadable action_id=%s channel=%s (missing_scope: reinstall "
                "the Slack app from slack/manifest.yml); posting without looking",
                action_id,
                channel,
            )
            return None
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == REQUEST_EVENT_TYPE and (
                payload.get("action_id") == action_id
            ):
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    log.warning("approval.history_not_exhausted action_id=%s channel=%s", action_id, channel)
    return None


def _load(action_id: str) -> approvals.ApprovalRecord:
    record = approvals.load(action_id)
    if record is None:
        raise inngest.NonRetriableError(f"no approval request for action {action_id}")
    return record


# --- steps ----------------------------------------------------------------------------------


def post_to_slack(action_id: str, timeout_hours: float, attempt: int = 0) -> dict[str, Any]:
    """Post the request once. A retried step (``attempt`` > 0) first takes the saved ts, then looks
    in the channel for a message it posted but never heard back about (tagged with the action id
    in its metadata) and adopts it, so a retry never leaves a second message with live buttons."""
    record = _load(action_id)
    if record.slack_channel and record.slack_ts:
        return SlackPost(channel=record.slack_channel, ts=record.slack_ts, reposted=False).dump()
    channel = record.app_channel or config_module.current().slack_approval_channel
    if not channel:
        raise inngest.NonRetriableError(
            "no Slack channel for approvals: set SLACK_APPROVAL_CHANNEL or the app's channel"
        )
    expires_at = record.expires_at or (record.created_at + dt.timedelta(hours=timeout_hours))
    view = view_of(record, expires_at=expires_at)
    client = slack_client()
    try:
        found = find_posted(client, channel, action_id, record.created_at) if attempt else None
        if found is None:
            response = client.chat_postMessage(
                channel=channel,
                text=blocks.fallback_text(view),
                blocks=blocks.request_blocks(view),
                metadata=request_metadata(action_id),
                unfurl_links=False,
            )
            ts = str(response["ts"])
            channel = str(response.get("channel") or channel)
        else:
            ts = found
    except SlackApiError as exc:
        raise _retry_on_rate_limit(exc) from exc
    approvals.record_message(action_id, channel, ts, expires_at)
    audit.append(
        "approval.posted",
        actor="system",
        action_id=action_id,
        conversation_id=record.conversation_id,
        detail={"channel": channel, "ts": ts, "adopted": found is not None},
    )
    return SlackPost(channel=channel, ts=ts, reposted=found is None).dump()


def check_decision(action_id: str) -> str:
    return _load(action_id).status


def send_reminder(action_id: str) -> str:
    """Remind the approvers in the thread, once, if still pending. Returns the row's status."""
    record = _load(action_id)
    if not record.is_pending:
        return record.status
    if not approvals.mark_reminded(action_id):
        return _load(action_id).status
    if record.slack_channel and record.slack_ts and record.expires_at:
        config = config_module.current()
        try:
            slack_client().chat_postMessage(
                channel=record.slack_channel,
                thread_ts=record.slack_ts,
                text=blocks.reminder_text(
                    view_of(record), config.slack_approver_ids, record.expires_at
                ),
            )
        except SlackApiError:
            # The reminder is a courtesy: a failure must not end the wait.
            log.exception("approval.reminder_failed action_id=%s", action_id)
    audit.append(
        "approval.reminded",
        actor="system",
        action_id=action_id,
        conversation_id=record.conversation_id,
    )
    return "pending"


def resolve(action_id: str) -> dict[str, Any]:
    """Read the decision from the row; a still-pending request expires here."""
    outcome = approvals.resolve(action_id)
    record = outcome.record
    if record is None:
        raise inngest.NonRetriableError(f"no approval request for action {action_id}")
    return Resolution(
        status=record.status,
        decided_by=record.decided_by,
        reason=record.reason,
        expired_now=outcome.won,
    ).dump()


def show_state(action_id: str) -> bool:
    """Redraw the message from the row (expired, executed, failed...)."""
    try:
        return update_message(slack_client(), _load(action_id))
    except SlackApiError as exc:
        raise _retry_on_rate_limit(exc) from exc


def show_outcome(action_id: str, outcome: ExecutionOutcome) -> dict[str, Any]:
    """The message shows what execution did; the action row is the truth, the invoke a fallback."""
    record = _load(action_id)
    if record.action_status not in ("succeeded", "failed"):
        log.warning(
            "approval.outcome_not_recorded action_id=%s action_status=%s invoke_status=%s",
            action_id,
            record.action_status,
            outcome.status,
        )
        record = dataclasses.replace(
            record, action_status=outcome.status, result=outcome.result, error=outcome.error
        )
    try:
        update_message(slack_client(), record)
    except SlackApiError as exc:
        raise _retry_on_rate_limit(exc) from exc
    return ShownOutcome(status=record.action_status, error=record.error).dump()


# --- the function -----------------------------------------------------------------------------


def wait_plan(
    timeout_hours: float, reminder_hours: float
) -> tuple[dt.timedelta, dt.timedelta | None]:
    """(first wait, wait after the reminder or None when there is no reminder)."""
    total = dt.timedelta(hours=timeout_hours)
    if 0 < reminder_hours < timeout_hours:
        remind_before = dt.timedelta(hours=reminder_hours)
        return total - remind_before, remind_before
    return total, None


@event_function(
    ApprovalRequested, fn_id=FN_ID, idempotency=f"event.data.{ACTION_ID_FIELD}", retries=5
)
def request_approval(ctx: inngest.ContextSync) -> dict[str, Any]:
    request = ApprovalRequested.parse(ctx.event.data)
    action_id = request.action_id
    config = config_module.current()
    first_wait, after_reminder = wait_plan(
        config.approval_timeout_hours, config.approval_reminder_hours
    )

    run_step(
        ctx,
        "post-to-slack",
        post_to_slack,
        action_id,
        config.approval_timeout_hours,
        ctx.attempt,
        out=SlackPost,
    )
    status = ctx.step.run("check-decision", check_decision, action_id)
    if status == "pending":
        decided = ctx.step.wait_for_event(
            "wait-for-decision",
            event=ApprovalDecided.NAME,
            if_exp=DECISION_MATCHES_REQUEST,
            timeout=first_wait,
        )
        if decided is None and after_reminder is not None:
            status = ctx.step.run("send-reminder", send_reminder, action_id)
            if status == "pending":
                ctx.step.wait_for_event(
                    "wait-after-reminder",
                    event=ApprovalDecided.NAME,
                    if_exp=DECISION_MATCHES_REQUEST,
                    timeout=after_reminder,
                )

    final = run_step(ctx, "resolve", resolve, action_id, out=Resolution)
    if final.status == "expired":
        ctx.step.run("show-expired", show_state, action_id)
        return {"actionId": action_id, "status": "expired"}

    if final.status == "rejected":
        try:
            ctx.step.invoke_by_id(
                "revise-draft",
                function_id=REVISE_DRAFT_FN_ID,
                data={ACTION_ID_FIELD: action_id, "reason": final.reason or "rejected"},
            )
        except inngest.StepError as exc:
            ctx.logger.error("approval.revise_failed action_id=%s error=%s", action_id, exc)
        return {"actionId": action_id, "status": "rejected"}

    # approved
    try:
        result = ctx.step.invoke_by_id(
            "execute", function_id=EXECUTE_ACTION_FN_ID, data={ACTION_ID_FIELD: action_id}
        )
        outcome = (
            parse_output("execute", result, ExecutionOutcome)
            if isinstance(result, dict)
            else ExecutionOutcome(
                action_id=action_id, status="failed", result=None, error="no result"
            )
        )
    except inngest.StepError as exc:
        outcome = ExecutionOutcome(
            action_id=action_id, status="failed", result=None, error=str(exc)
        )
    shown = run_step(ctx, "show-outcome", show_outcome, action_id, outcome, out=ShownOutcome)
    return {"actionId": action_id, "status": "approved", "execution": shown.status}
