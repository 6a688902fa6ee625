"""Bolt listeners: Approve / Reject / Edit buttons, their modals, and App Home.

Timing. The Bolt app runs with ``process_before_response=True``: Slack's HTTP answer waits for the
``ack`` listener, and Bolt *lazy listeners* run in Bolt's thread pool after the answer went out.

Nothing acknowledged is lost. A decision is recorded BEFORE the acknowledgement: the ``ack``
listener of the Approve button and of the two modals checks the approver, validates the input and
runs ``support.approvals.decide`` (one short transaction), then acknowledges. When that fails (the
database is down, the input cannot be stored) the clicker is told so, in Slack, and the buttons stay
live: a button click gets an ephemeral "not recorded, try again" (sent before the acknowledgement;
if even that fails, the click is answered with an error Slack shows), a modal stays open with the
error on its input. What follows a recorded decision (its events, the message redrawn without
buttons, a loser told who won) runs in the lazy listener: a failure there loses nothing, the row
holds the decision and ``reconcile-decisions`` re-sends the events. Opening a modal and App Home
need no decision and run after the acknowledgement.

Trust. A button's ``value`` is only a hint: the action is looked up on the server, the clicking user
must be in ``SLACK_APPROVER_IDS`` (empty = anyone; ``create_app`` warns loudly) and the click must
come from ``SLACK_TEAM_ID`` when it is set. A refused user is told so ephemerally; nothing changes.

Exactly once. ``support.approvals.decide`` is one conditional UPDATE: its winner alone sends
``support/approval.decided`` (deterministic event id) plus ``action/approved|rejected`` and redraws
the message without buttons; a loser is told who decided. If sending fails after the commit, the
decision stays in the database and ``reconcile-decisions`` announces it again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError

from slack import blocks
from slack.messages import update_message, view_of
from support import approvals, inngest_client
from support.config import Config
from support.db.models import utcnow
from support.events import ActionApproved, ActionRejected, ApprovalDecided

log = logging.getLogger(__name__)

NOT_APPROVER = "You are not an approver for this action."
NOT_THIS_MESSAGE = "This button does not belong to that request; nothing was changed."
MAX_REASON = blocks.INPUT_LIMIT
AFTER = "approval_after"
"""The ``context`` key where an ``ack`` listener leaves its ``After`` for the lazy listener."""


@dataclasses.dataclass(frozen=True)
class After:
    """What the lazy listener does once the click is acknowledged (deep-copied by Bolt).

    ``decided``: the record this click decided (announce it, redraw the message); ``note``: a text
    for the clicker (refused, lost the race, expired...); ``record``: where to say it.
    """

    decided: approvals.ApprovalRecord | None = None
    note: str | None = None
    record: approvals.ApprovalRecord | None = None


class NotTold(RuntimeError):
    """A click could be neither recorded nor answered in Slack: Bolt answers 500, Slack shows it."""


def register(app: App, config: Config) -> None:
    """Attach every listener to ``app``."""

    def ack_only(ack: Ack) -> None:
        ack()

    def approve(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        """Decide before the acknowledgement; on failure the clicker is told (buttons live)."""
        click = Click.from_action(body)
        if not allowed(config, click.user_id, click.team_id) or click.unbound:
            ack()
            context[AFTER] = refused(click)
            return
        try:
            outcome = approvals.decide(
                click.action_id, "approved", click.user_id, message=click.message
            )
        except Exception as exc:
            log.exception("approval.not_recorded action_id=%s", click.action_id)
            if not tell(client, click, None, not_recorded(exc)):
                raise NotTold(f"decision on {click.action_id} not recorded nor told") from exc
            ack()
            return
        ack()
        context[AFTER] = after_decision(outcome)

    def after_approve(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        click = Click.from_action(body)
        follow_up(client, click, context.get(AFTER))
        if click.from_home and context.get(AFTER) is not None:
            publish_home(config, client, click.user_id)

    def open_modal(
        body: dict[str, Any], client: WebClient, build: Callable[[blocks.RequestView], View]
    ) -> None:
        click = Click.from_action(body)
        if not allowed(config, click.user_id, click.team_id) or click.unbound:
            follow_up(client, click, refused(click))
            return
        try:
            record = still_pending(client, click)
        except Exception as exc:
            log.exception("approval.modal_not_opened action_id=%s", click.action_id)
            tell(
                client, click, None, f"Could not open the form ({failure_reason(exc)}); try again."
            )
            return
        if record is None:
            return
        if click.message and record.slack_ts and click.message != posted_at(record):
            follow_up(client, click, refused(click, NOT_THIS_MESSAGE))
            return
        view = build(view_of(record))
        view.private_metadata = modal_metadata(record.action_id, click.message)
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def open_reject(body: dict[str, Any], client: WebClient) -> None:
        open_modal(body, client, blocks.reject_modal)

    def open_edit(body: dict[str, Any], client: WebClient) -> None:
        open_modal(body, client, blocks.edit_modal)

    def submit_reject(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        """Validate and decide inside the view's acknowledgement: an error keeps the modal open."""
        click = Click.from_view(body)
        reason = reason_of(body)
        problem = reason_problem(reason)
        if problem:
            ack(response_action="errors", errors={blocks.REASON_BLOCK: problem})
            return
        if not allowed(config, click.user_id, click.team_id):
            ack()
            context[AFTER] = refused(click)
            return
        try:
            outcome = approvals.decide(
                click.action_id, "rejected", click.user_id, reason, message=click.message
            )
        except Exception as exc:
            log.exception("approval.not_recorded action_id=%s", click.action_id)
            ack(response_action="errors", errors={blocks.REASON_BLOCK: modal_error(exc)})
            return
        ack()
        context[AFTER] = after_decision(outcome)

    def submit_edit(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        click = Click.from_view(body)
        problem = amount_problem(input_value(body, blocks.AMOUNT_BLOCK, blocks.AMOUNT_INPUT))
        if problem:
            ack(response_action="errors", errors={blocks.AMOUNT_BLOCK: problem})
            return
        draft = input_value(body, blocks.DRAFT_BLOCK, blocks.DRAFT_INPUT)
        problem = text_problem(draft, "draft")
        if problem:
            ack(response_action="errors", errors={blocks.DRAFT_BLOCK: problem})
            return
        if not allowed(config, click.user_id, click.team_id):
            ack()
            context[AFTER] = refused(click)
            return
        try:
            after = decide_edit(click, edits_of(body))
        except Exception as exc:
            log.exception("approval.not_recorded action_id=%s", click.action_id)
            ack(response_action="errors", errors={error_block(body): modal_error(exc)})
            return
        ack()
        context[AFTER] = after

    def after_submit(body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        follow_up(client, Click.from_view(body), context.get(AFTER))

    def home(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(config, client, str(event["user"]))

    app.action(blocks.APPROVE)(ack=approve, lazy=[after_approve])
    app.action(blocks.REJECT)(ack=ack_only, lazy=[open_reject])
    app.action(blocks.EDIT)(ack=ack_only, lazy=[open_edit])
    app.action(blocks.OPEN_IN_FRONT)(ack_only)
    app.view(blocks.REJECT_CALLBACK)(ack=submit_reject, lazy=[after_submit])
    app.view(blocks.EDIT_CALLBACK)(ack=submit_edit, lazy=[after_submit])
    app.event("app_home_opened")(ack=ack_only, lazy=[home])


class Click:
    """Who acted, on which action (a hint), from where.

    ``message``: the (channel, ts) of the request message the click came from (or, for a modal,
    the one it was opened from, carried in the ``private_metadata`` we set); the decision only
    counts if the action's row names that message (``approvals.decide(message=...)``).
    ``unbound``: why the click cannot be tied to its action (refused, nothing changes).
    """

    def __init__(
        self,
        *,
        user_id: str,
        team_id: str | None,
        action_id: str,
        channel: str | None,
        from_home: bool,
        message_ts: str | None = None,
        unbound: str | None = None,
    ) -> None:
        self.user_id = user_id
        self.team_id = team_id
        self.action_id = action_id
        self.channel = channel
        self.from_home = from_home
        self.message_ts = message_ts
        self.unbound = unbound

    @property
    def message(self) -> tuple[str, str] | None:
        if self.from_home or not (self.channel and self.message_ts):
            return None
        return self.channel, self.message_ts

    @classmethod
    def from_action(cls, body: dict[str, Any]) -> Click:
        action = body["actions"][0]
        container = body.get("container") or {}
        action_id = str(action.get("value") or "")
        from_home = container.get("type") == "view"
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        message_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        unbound = None
        if from_home:
            # App Home: the view is ours (Slack sends us clicks on our views only); the action
            # must be one it lists.
            if action_id not in listed_actions(body.get("view") or {}):
                unbound = "the action is not listed in this view"
        elif not (channel and message_ts):
            unbound = "the click names no message"
        return cls(
            user_id=str(body["user"]["id"]),
            team_id=_team(body),
            action_id=action_id,
            channel=str(channel) if channel else None,
            from_home=from_home,
            message_ts=str(message_ts) if message_ts else None,
            unbound=unbound,
        )

    @classmethod
    def from_view(cls, body: dict[str, Any]) -> Click:
        bound = parse_modal_metadata(str(body["view"].get("private_metadata") or ""))
        return cls(
            user_id=str(body["user"]["id"]),
            team_id=_team(body),
            action_id=bound.get("action_id", ""),
            channel=bound.get("channel"),
            from_home=False,
            message_ts=bound.get("ts"),
        )


def listed_actions(view: dict[str, Any]) -> set[str]:
    """Action ids of the Approve / Reject / Edit buttons in a view (App Home)."""
    found: set[str] = set()
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "actions":
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("value"):
                    found.add(str(element["value"]))
    return found


def modal_metadata(action_id: str, message: tuple[str, str] | None) -> str:
    """The ``private_metadata`` of a Reject / Edit modal: the action and the message it is for."""
    if message is None:
        return json.dumps({"action_id": action_id})
    return json.dumps({"action_id": action_id, "channel": message[0], "ts": message[1]})


def parse_modal_metadata(raw: str) -> dict[str, str]:
    """``modal_metadata`` read back; a bare action id is what modals carried before."""
    try:
        data = json.loads(raw) if raw.startswith("{") else {"action_id": raw}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: str(v) for k, v in data.items() if k in ("action_id", "channel", "ts") and v}


def _team(body: dict[str, Any]) -> str | None:
    team = body.get("team") or {}
    found = team.get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id")
    return str(found) if found else None


def allowed(config: Config, user_id: str, team_id: str | None) -> bool:
    if config.slack_team_id and team_id != config.slack_team_id:
        return False
    return not config.slack_approver_ids or user_id in config.slack_approver_ids


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


def follow_up(client: WebClient, click: Click, after: After | None) -> None:
    """After the acknowledgement: announce and redraw a decision, or tell the clicker."""
    if after is None:
        return
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
        inngest_client.send_bounded(events)  # a hung Inngest holds no listener thread for long
    except Exception:
        log.exception(
            "approval.decision_send_failed action_id=%s (committed; reconcile-decisions re-sends)",
            record.action_id,
        )


def input_value(body: dict[str, Any], block_id: str, action_id: str) -> str | None:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    value = (values.get(block_id) or {}).get(action_id) or {}
    text = value.get("value")
    return str(text) if text is not None else None


def reason_of(body: dict[str, Any]) -> str | None:
    reason = (input_value(body, blocks.REASON_BLOCK, blocks.REASON_INPUT) or "").strip()
    return reason or None


def text_problem(text: str | None, what: str) -> str | None:
    """Text the database cannot store: longer than the modal allows, or not encodable."""
    if text is None:
        return None
    if len(text) > MAX_REASON:
        return f"The {what} may be at most {MAX_REASON} characters (it has {len(text)})."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"The {what} holds characters that cannot be stored (a broken emoji?); retype it."
    return None


def reason_problem(reason: str | None) -> str | None:
    if not reason:
        return "Give a reason."
    return text_problem(reason, "reason")


def amount_problem(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if approvals.whole_amount(raw) is None:  # ASCII digits only
        return "Enter a whole number of cents greater than 0, like 1999 (digits 0-9 only)."
    return None


def error_block(body: dict[str, Any]) -> str:
    """The modal input a general error is shown on (the amount when the modal has one)."""
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return blocks.AMOUNT_BLOCK if blocks.AMOUNT_BLOCK in values else blocks.DRAFT_BLOCK


def edits_of(body: dict[str, Any]) -> dict[str, Any]:
    edits: dict[str, Any] = {}
    amount = input_value(body, blocks.AMOUNT_BLOCK, blocks.AMOUNT_INPUT)
    if amount is not None and amount.strip():
        edits["amount"] = amount.strip()
    draft = input_value(body, blocks.DRAFT_BLOCK, blocks.DRAFT_INPUT)
    if draft is not None:
        edits["draftBody"] = draft
    return edits


def publish_home(config: Config, client: WebClient, user_id: str) -> None:
    records = approvals.pending_for_home()
    view = blocks.home_view(
        [view_of(r) for r in records],
        utcnow(),
        allowed=not config.slack_approver_ids or user_id in config.slack_approver_ids,
    )
    client.views_publish(user_id=user_id, view=view)
