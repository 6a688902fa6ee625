"""After a click is checked: decide, and what follows the acknowledgement (``After``): announce the
decision and redraw the message, or tell the clicker why nothing changed."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from slack import blocks
from slack.clicks import Click
from slack.messages import update_message
from support import approvals, inngest_client
from support.db.models import utcnow
from support.events import ActionApproved, ActionRejected, ApprovalDecided

log = logging.getLogger(__name__)

NOT_APPROVER = "You are not an approver for this action."
NOT_THIS_MESSAGE = "This button does not belong to that request; nothing was changed."


@dataclasses.dataclass(frozen=True)
class After:
    """What follows the acknowledgement of a click (``slack.after_ack``).

    ``decided``: the record this click decided (announce it, redraw the message); ``note``: a text
    for the clicker (refused, lost the race, expired...); ``record``: where to say it.
    """

    decided: approvals.ApprovalRecord | None = None
    note: str | None = None
    record: approvals.ApprovalRecord | None = None


class NotTold(RuntimeError):
    """A click could be neither recorded nor answered in Slack: Bolt answers 500, Slack shows it."""


def refused(click: Click, note: str | None = None) -> After:
    """A click that may not decide (not an approver, or not tied to its action): logged here,
    the clicker told after the acknowledgement."""
    note = note or (NOT_THIS_MESSAGE if click.unbound else NOT_APPROVER)
    log.warning(
        "approval.refused user=%s team=%s action_id=%s why=%s",
        click.user_id,
        click.team_id,
        click.action_id,
        click.unbound or note,
    )
    return After(note=note)


def posted_at(record: approvals.ApprovalRecord) -> tuple[str, str] | None:
    if record.slack_channel and record.slack_ts:
        return record.slack_channel, record.slack_ts
    return None


def tell(
    client: WebClient, click: Click, record: approvals.ApprovalRecord | None, text: str
) -> bool:
    """An ephemeral note in the request's channel; a DM when the click came from App Home.

    A modal submission carries no channel: the note goes to the request's channel all the same
    (read from ``record``, or loaded). True when Slack took it.
    """
    channel = click.channel
    if not channel and not click.from_home:
        if record is None:
            try:
                record = approvals.load(click.action_id)
            except Exception:
                log.exception("slack.tell_lookup_failed action_id=%s", click.action_id)
        channel = record.slack_channel if record else None
    try:
        if channel and not click.from_home:
            client.chat_postEphemeral(channel=channel, user=click.user_id, text=text)
        else:
            client.chat_postMessage(channel=click.user_id, text=text)
    except Exception:  # SlackApiError, or Slack not answering at all
        log.exception("slack.tell_failed user=%s action_id=%s", click.user_id, click.action_id)
        return False
    return True


def not_recorded(exc: BaseException) -> str:
    return (
        f"Your decision was NOT recorded ({failure_reason(exc)}). "
        "Nothing changed; the buttons still work: please try again."
    )


def modal_error(exc: BaseException) -> str:
    return f"Could not record your decision ({failure_reason(exc)}); try again."


def failure_reason(exc: BaseException) -> str:
    """Why a decision could not be stored, in words for the clicker (no internals, no secrets)."""
    if isinstance(exc, UnicodeError):
        return "the text holds characters that cannot be stored"
    if isinstance(exc, DataError):
        return "the text could not be stored"
    if isinstance(exc, (OperationalError, InterfaceError)):
        return "the database is not reachable right now"
    if isinstance(exc, DBAPIError):
        return "the database refused it"
    return "an internal error"


def state_text(outcome_status: str, record: approvals.ApprovalRecord | None) -> str:
    """What a late clicker is told."""
    if record is None or outcome_status == "missing":
        return "This action no longer exists."
    when = f" at {blocks.slack_date(record.decided_at)}" if record.decided_at else ""
    if outcome_status == "approved":
        return f"Already approved by {blocks.mention(record.decided_by)}{when}."
    if outcome_status == "rejected":
        return f"Already rejected by {blocks.mention(record.decided_by)}{when}."
    if outcome_status == "expired":
        return "This request expired; no action was taken."
    return f"This request is {outcome_status}."


def still_pending(client: WebClient, click: Click) -> approvals.ApprovalRecord | None:
    record = approvals.load(click.action_id)
    if record is not None and record.is_pending:
        if record.expires_at is None or record.expires_at > utcnow():
            return record
        tell(client, click, record, state_text("expired", record))
        return None
    tell(client, click, record, state_text(record.status if record else "missing", record))
    return None


def after_decision(outcome: approvals.Outcome) -> After:
    """The winner announces and redraws; a loser is told the state that stands."""
    if outcome.won:
        return After(decided=outcome.record)
    if outcome.other_message:
        log.warning(
            "approval.refused action_id=%s why=the click came from another message",
            outcome.record.action_id if outcome.record else None,
        )
        return After(note=NOT_THIS_MESSAGE)
    return After(note=state_text(outcome.status, outcome.record), record=outcome.record)


def decide_edit(click: Click, edits: dict[str, Any]) -> After:
    """Approve with the approver's edits, if the policy allows them."""
    record = approvals.load(click.action_id)
    if record is None:
        return After(note=state_text("missing", None))
    try:
        clean = approvals.validate_edits(record, edits)
    except approvals.InvalidEdit as exc:
        return After(note=f"Not approved: {exc}.", record=record)
    return after_decision(approvals.decide(click.action_id, "approved", click.user_id, edits=clean))


def follow_up(client: WebClient, click: Click, after: After) -> None:
    """After the acknowledgement: announce and redraw a decision, or tell the clicker."""
    if after.note:
        tell(client, click, after.record, after.note)
    record = after.decided
    if record is None:
        return
    announce(record)
    try:
        update_message(client, record)
    except SlackApiError:
        log.exception("approval.redraw_failed action_id=%s", record.action_id)


def announce(record: approvals.ApprovalRecord) -> None:
    """Send the decision; a failure is logged, the reconciler re-sends from the database."""
    at = approvals.iso_utc(record.decided_at)
    by = record.decided_by or "unknown"
    approved = record.status == "approved"
    decided = ApprovalDecided(
        action_id=record.action_id,
        decision="approved" if approved else "rejected",
        decided_by=by,
        decided_at=at,
        reason=record.reason,
        edits=record.edits,
    )
    side = ActionApproved if approved else ActionRejected
    events = [
        decided.to_event(event_id=ApprovalDecided.event_id(record.action_id)),
        side(action_id=record.action_id, by=by, at=at, reason=record.reason).to_event(
            event_id=f"{side.NAME.replace('/', '-')}-{record.action_id}"
        ),
    ]
    try:
        # After the answer, on Bolt's listener executor (not a web server thread: no send slot);
        # bounded, so a hung Inngest holds no listener thread for long.
        inngest_client.send_bounded(events, from_door=False)
    except Exception:
        log.exception(
            "approval.decision_send_failed action_id=%s (committed; reconcile-decisions re-sends)",
            record.action_id,
        )
