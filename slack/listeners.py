"""Bolt listeners: Approve / Reject / Edit buttons, their modals, and App Home (``register``).

The parts, one concern each: ``slack/clicks.py`` reads a click and checks who may decide,
``slack/modal_input.py`` checks what was typed into a modal, ``slack/decisions.py`` is what follows a
decision (or a refusal) after the acknowledgement, ``slack/home.py`` publishes App Home.

Timing. The Bolt app runs with ``process_before_response=True``: Slack's HTTP answer waits for the
listener, and what follows the answer is handed to ``later`` (``slack/after_ack.py``): it runs on
Bolt's listener executor, the thread pool Bolt runs lazy listeners on, without their deep copy of
the request.

Nothing acknowledged is lost. A decision is recorded BEFORE the acknowledgement: the ``ack``
listener of the Approve button and of the two modals checks the approver, validates the input and
runs ``support.approvals.decide`` (one short transaction), then acknowledges. When that fails (the
database is down, the input cannot be stored) the clicker is told so, in Slack, and the buttons stay
live: a button click gets an ephemeral "not recorded, try again" (sent before the acknowledgement;
if even that fails, the click is answered with an error Slack shows), a modal stays open with the
error on its input. What follows a recorded decision (its events, the message redrawn without
buttons, a loser told who won) runs after it (``later``): a failure there loses nothing, the row
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

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.models.views import View

from slack import blocks
from slack.after_ack import later_on
from slack.clicks import Click, allowed, modal_metadata
from slack.decisions import (
    NOT_THIS_MESSAGE,
    After,
    NotTold,
    after_decision,
    decide_edit,
    failure_reason,
    follow_up,
    modal_error,
    not_recorded,
    posted_at,
    refused,
    still_pending,
    tell,
)
from slack.home import publish_home
from slack.messages import view_of
from slack.modal_input import (
    amount_problem,
    edits_of,
    error_block,
    input_value,
    reason_of,
    reason_problem,
    text_problem,
)
from support import approvals
from support.config import Config

log = logging.getLogger(__name__)


def register(app: App, config: Config) -> None:
    """Attach every listener to ``app``."""
    later = later_on(app)

    def ack_only(ack: Ack) -> None:
        ack()

    def approve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Decide before the acknowledgement; on failure the clicker is told (buttons live)."""
        click = Click.from_action(body)
        if not allowed(config, click.user_id, click.team_id) or click.unbound:
            ack()
            after = refused(click)
            later(lambda: after_approve(client, click, after))
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
        decided = after_decision(outcome)
        later(lambda: after_approve(client, click, decided))

    def after_approve(client: WebClient, click: Click, after: After) -> None:
        follow_up(client, click, after)
        if click.from_home:
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

    def open_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        later(lambda: open_modal(body, client, blocks.reject_modal))

    def open_edit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        later(lambda: open_modal(body, client, blocks.edit_modal))

    def decide_in_modal(
        ack: Ack, client: WebClient, click: Click, block: str, decide: Callable[[], After]
    ) -> None:
        """Validated input: decide inside the view's acknowledgement (an error keeps the modal
        open, shown on ``block``); a refused clicker is told after it."""
        if not allowed(config, click.user_id, click.team_id):
            ack()
            after = refused(click)
        else:
            try:
                after = decide()
            except Exception as exc:
                log.exception("approval.not_recorded action_id=%s", click.action_id)
                ack(response_action="errors", errors={block: modal_error(exc)})
                return
            ack()
        later(lambda: follow_up(client, click, after))

    def submit_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        click = Click.from_view(body)
        reason = reason_of(body)
        problem = reason_problem(reason)
        if problem:
            ack(response_action="errors", errors={blocks.REASON_BLOCK: problem})
            return
        decide_in_modal(
            ack,
            client,
            click,
            blocks.REASON_BLOCK,
            lambda: after_decision(
                approvals.decide(
                    click.action_id, "rejected", click.user_id, reason, message=click.message
                )
            ),
        )

    def submit_edit(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
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
        decide_in_modal(
            ack, client, click, error_block(body), lambda: decide_edit(click, edits_of(body))
        )

    def home(ack: Ack, event: dict[str, Any], client: WebClient) -> None:
        ack()
        if event.get("tab", "home") == "home":
            user = str(event["user"])
            later(lambda: publish_home(config, client, user))

    app.action(blocks.APPROVE)(approve)
    app.action(blocks.REJECT)(open_reject)
    app.action(blocks.EDIT)(open_edit)
    app.action(blocks.OPEN_IN_FRONT)(ack_only)
    app.view(blocks.REJECT_CALLBACK)(submit_reject)
    app.view(blocks.EDIT_CALLBACK)(submit_edit)
    app.event("app_home_opened")(home)
