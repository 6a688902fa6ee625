"""Bolt listeners: Approve / Reject / Edit buttons, their modals, and App Home.

Timing. The Bolt app runs with ``process_before_response=True`` (Slack's answer waits for the acked
part), so every listener is split: the ``ack`` part only acknowledges (and validates modal input,
which needs no I/O) and the work runs as a Bolt *lazy listener* in Bolt's thread pool after the HTTP
answer went out. A slow database or Inngest therefore never delays the 3 s acknowledgement.

Trust. A button's ``value`` is only a hint: the action is looked up on the server, the clicking user
must be in ``SLACK_APPROVER_IDS`` (empty = anyone; ``create_app`` warns loudly) and the click must
come from ``SLACK_TEAM_ID`` when it is set. A refused user is told so ephemerally; nothing changes.

Exactly once. ``support.approvals.decide`` is one conditional UPDATE: its winner alone sends
``support/approval.decided`` (deterministic event id) plus ``action/approved|rejected`` and redraws
the message without buttons; a loser is told who decided. If sending fails after the commit, the
decision stays in the database and ``reconcile-decisions`` announces it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from slack import blocks
from support import approvals, inngest_client
from support.config import Config
from support.db.models import utcnow
from support.events import ActionApproved, ActionRejected, ApprovalDecided
from support.workflows.request_approval import update_message, view_of

log = logging.getLogger(__name__)

NOT_APPROVER = "You are not an approver for this action."


def register(app: App, config: Config) -> None:
    """Attach every listener to ``app``."""

    def ack_only(ack: Ack) -> None:
        ack()

    def approve(body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_action(body)
        if refuse(config, client, click):
            return
        decide(client, click, "approved")
        if click.from_home:
            publish_home(config, client, click.user_id)

    def open_modal(
        body: dict[str, Any], client: WebClient, build: Callable[[blocks.RequestView], View]
    ) -> None:
        click = Click.from_action(body)
        if refuse(config, client, click):
            return
        record = still_pending(client, click)
        if record is not None:
            client.views_open(trigger_id=body["trigger_id"], view=build(view_of(record)))

    def open_reject(body: dict[str, Any], client: WebClient) -> None:
        open_modal(body, client, blocks.reject_modal)

    def open_edit(body: dict[str, Any], client: WebClient) -> None:
        open_modal(body, client, blocks.edit_modal)

    def check_reject(ack: Ack, body: dict[str, Any]) -> None:
        if not reason_of(body):
            ack(response_action="errors", errors={blocks.REASON_BLOCK: "Give a reason."})
        else:
            ack()

    def submit_reject(body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_view(body)
        reason = reason_of(body)
        if not reason or refuse(config, client, click):
            return
        decide(client, click, "rejected", reason=reason)

    def check_edit(ack: Ack, body: dict[str, Any]) -> None:
        problem = amount_problem(input_value(body, blocks.AMOUNT_BLOCK, blocks.AMOUNT_INPUT))
        if problem:
            ack(response_action="errors", errors={blocks.AMOUNT_BLOCK: problem})
        else:
            ack()

    def submit_edit(body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_view(body)
        if refuse(config, client, click):
            return
        edits = edits_of(body)
        if amount_problem(edits.get("amount")):
            return  # the modal already showed the error
        decide(client, click, "approved", edits=edits)

    def home(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        publish_home(config, client, str(event["user"]))

    app.action(blocks.APPROVE)(ack=ack_only, lazy=[approve])
    app.action(blocks.REJECT)(ack=ack_only, lazy=[open_reject])
    app.action(blocks.EDIT)(ack=ack_only, lazy=[open_edit])
    app.action(blocks.OPEN_IN_FRONT)(ack_only)
    app.view(blocks.REJECT_CALLBACK)(ack=check_reject, lazy=[submit_reject])
    app.view(blocks.EDIT_CALLBACK)(ack=check_edit, lazy=[submit_edit])
    app.event("app_home_opened")(ack=ack_only, lazy=[home])


class Click:
    """Who acted, on which action (a hint), from where."""

    def __init__(
        self,
        *,
        user_id: str,
        team_id: str | None,
        action_id: str,
        channel: str | None,
        from_home: bool,
    ) -> None:
        self.user_id = user_id
        self.team_id = team_id
        self.action_id = action_id
        self.channel = channel
        self.from_home = from_home

    @classmethod
    def from_action(cls, body: dict[str, Any]) -> Click:
        action = body["actions"][0]
        container = body.get("container") or {}
        return cls(
            user_id=str(body["user"]["id"]),
            team_id=_team(body),
            action_id=str(action.get("value") or ""),
            channel=(body.get("channel") or {}).get("id") or container.get("channel_id"),
            from_home=container.get("type") == "view",
        )

    @classmethod
    def from_view(cls, body: dict[str, Any]) -> Click:
        return cls(
            user_id=str(body["user"]["id"]),
            team_id=_team(body),
            action_id=str(body["view"].get("private_metadata") or ""),
            channel=None,
            from_home=False,
        )


def _team(body: dict[str, Any]) -> str | None:
    team = body.get("team") or {}
    found = team.get("id") or body.get("team_id") or (body.get("user") or {}).get("team_id")
    return str(found) if found else None


def allowed(config: Config, user_id: str, team_id: str | None) -> bool:
    if config.slack_team_id and team_id != config.slack_team_id:
        return False
    return not config.slack_approver_ids or user_id in config.slack_approver_ids


def refuse(config: Config, client: WebClient, click: Click) -> bool:
    """True (and the user told) when the clicking user may not decide."""
    if allowed(config, click.user_id, click.team_id):
        return False
    log.warning(
        "approval.refused user=%s team=%s action_id=%s",
        click.user_id,
        click.team_id,
        click.action_id,
    )
    # A modal submission carries no channel: answer in the request's channel all the same.
    record = None if click.channel else approvals.load(click.action_id)
    tell(client, click, record, NOT_APPROVER)
    return True


def tell(
    client: WebClient, click: Click, record: approvals.ApprovalRecord | None, text: str
) -> None:
    """An ephemeral note in the request's channel; a DM when the click came from App Home."""
    channel = click.channel or (record.slack_channel if record else None)
    try:
        if channel and not click.from_home:
            client.chat_postEphemeral(channel=channel, user=click.user_id, text=text)
        else:
            client.chat_postMessage(channel=click.user_id, text=text)
    except SlackApiError:
        log.exception("slack.tell_failed user=%s action_id=%s", click.user_id, click.action_id)


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


def decide(
    client: WebClient,
    click: Click,
    decision: approvals.Decision,
    *,
    reason: str | None = None,
    edits: dict[str, Any] | None = None,
) -> approvals.Outcome:
    if edits:
        record = approvals.load(click.action_id)
        if record is None:
            tell(client, click, None, state_text("missing", None))
            return approvals.Outcome(won=False, record=None)
        try:
            edits = approvals.validate_edits(record, edits)
        except approvals.InvalidEdit as exc:
            tell(client, click, record, f"Not approved: {exc}.")
            return approvals.Outcome(won=False, record=record)
    outcome = approvals.decide(click.action_id, decision, click.user_id, reason, edits)
    if not outcome.won:
        tell(client, click, outcome.record, state_text(outcome.status, outcome.record))
        return outcome
    assert outcome.record is not None
    announce(outcome.record)
    try:
        update_message(client, outcome.record)
    except SlackApiError:
        log.exception("approval.redraw_failed action_id=%s", click.action_id)
    return outcome


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
        inngest_client.send(events)
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


def amount_problem(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if approvals.whole_amount(raw) is None:
        return "Enter a whole number of cents greater than 0, like 1999."
    return None


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
