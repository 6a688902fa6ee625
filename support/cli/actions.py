"""``flask --app app actions show|retry ACTION_ID``, and the visible expiry ``apps remove --force``
uses.

``retry`` re-runs a *failed* action with the same idempotency key (the action id, sent as
``Idempotency-Key`` to the product app): it releases the action's claim in one conditional UPDATE
(``status='failed'`` only) with an ``action.retry_released`` audit row, then sends
``support/action.execute``, which starts ``execute-action`` for it. If the event cannot be sent the
release is undone, so the action never sits released with nothing running it.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import func, select, update

from support import approvals, audit, db
from support.apps import OPERATOR
from support.db.models import Action, App, ApprovalRequest, AuditLog, utcnow

actions_cli = AppGroup("actions", help="Inspect and retry the actions the agent proposed.")


class RetryRefused(click.ClickException):
    pass


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


@actions_cli.command("show")
@click.argument("action_id")
def actions_show(action_id: str) -> None:
    """Print one action: what it is, its approval, its outcome and the audit trail's size."""
    with db.session() as s:
        action = s.get(Action, action_id)
        if action is None:
            raise click.ClickException(f"no action {action_id!r} (ids look like act_...)")
        app = s.get(App, action.app_id)
        approval = s.get(ApprovalRequest, action_id)
        trail = s.scalar(select(func.count()).where(AuditLog.action_id == action_id)) or 0
        rows: list[tuple[str, Any]] = [
            ("action", action.id),
            ("type", action.type),
            ("status", action.status),
            ("app", f"{app.slug} (id {app.id})" if app else action.app_id),
            ("conversation", action.conversation_id),
            ("customer", action.customer_email),
            ("parameters", action.parameters),
            ("reasoning", action.reasoning),
            ("created", action.created_at),
            ("executed", action.executed_at),
            ("result", action.result),
            ("error", action.error),
        ]
        if approval is not None:
            rows += [
                ("approval", approval.status),
                ("decided by", approval.decided_by),
                ("decided at", approval.decided_at),
                ("reason", approval.reason),
                ("edits", approval.edits),
                (
                    "slack message",
                    f"{approval.slack_channel} {approval.slack_ts}" if approval.slack_ts else None,
                ),
                ("expires", approval.expires_at),
            ]
    for label, value in rows:
        click.echo(f"{label:<14} {_show(value)}")
    click.echo(f"{'audit rows':<14} {trail} (flask --app app audit --action {action_id})")
    if action.status == "failed":
        click.echo(f"retry with: flask --app app actions retry {action_id}")


def release_for_retry(action_id: str) -> tuple[str | None, int, str]:
    """Release a failed action's claim: (its error, attempt number, the status it is back at)."""
    with db.session() as s:
        action = s.get(Action, action_id)
        if action is None:
            raise RetryRefused(f"no action {action_id!r} (ids look like act_...)")
        if action.status != "failed":
            raise RetryRefused(
                f"action {action_id} is {action.status!r}: only a failed action can be retried"
                + (" (it already succeeded)" if action.status == "succeeded" else "")
            )
        approval = s.get(ApprovalRequest, action_id)
        if action.requires_approval and (approval is None or approval.status != "approved"):
            raise RetryRefused(f"action {action_id} was never approved: nothing to retry")
        back_to = "approved" if action.requires_approval else "proposed"
        error = action.error
        released = s.execute(
            update(Action)
            .where(Action.id == action_id, Action.status == "failed")
            .values(executed_at=None, status=back_to, error=None)
            .execution_options(synchronize_session=False)
        )
        if getattr(released, "rowcount", 0) != 1:
            raise RetryRefused(f"action {action_id} changed meanwhile; look again with `show`")
        attempt = 1 + (
            s.scalar(
                select(func.count()).where(
                    AuditLog.action_id == action_id, AuditLog.event == "action.retry_released"
                )
            )
            or 0
        )
        audit.append_in(
            s,
            "action.retry_released",
            actor=OPERATOR,
            action_id=action_id,
            conversation_id=action.conversation_id,
            detail={"previousError": error, "attempt": attempt},
        )
        return error, attempt, back_to


def undo_release(action_id: str, error: str | None, back_to: str, why: str) -> None:
    with db.session() as s:
        s.execute(
            update(Action)
            .where(Action.id == action_id, Action.status == back_to, Action.executed_at.is_(None))
            .values(status="failed", error=error, executed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        audit.append_in(
            s,
            "action.retry_not_started",
            actor=OPERATOR,
            action_id=action_id,
            detail={"error": why},
        )


@actions_cli.command("retry")
@click.argument("action_id")
def actions_retry(action_id: str) -> None:
    """Run a failed action again, with the same idempotency key (its id)."""
    from support import inngest_client
    from support.events import ExecuteActionRequested

    error, attempt, back_to = release_for_retry(action_id)
    event_id = f"retry-{action_id}-{attempt}"
    try:
        inngest_client.send(ExecuteActionRequested(action_id=action_id).to_event(event_id))
    except Exception as exc:
        undo_release(action_id, error, back_to, str(exc))
        raise click.ClickException(
            f"could not send support/action.execute ({exc}); the action is failed again, as "
            "before. Check INNGEST_EVENT_KEY and the Inngest URL (`flask --app app doctor`)"
        ) from None
    click.echo(
        f"retrying {action_id} (attempt {attempt}, event {event_id}; previous error: "
        f"{error or '-'}). The product app sees the same Idempotency-Key ({action_id}), so a "
        "refund it already applied is not applied twice. Follow it with "
        f"`flask --app app actions show {action_id}`"
    )


def expire_visibly(action_id: str, *, reason: str) -> str:
    """Expire a pending approval, record why, and redraw its Slack message. One line back."""
    from slack_sdk.errors import SlackClientError

    from slack.messages import slack_client, update_message

    outcome = approvals.expire(action_id)
    record = outcome.record
    if not outcome.won or record is None:
        status = record.status if record else "gone"
        return f"{action_id}: no longer pending ({status}), left as it is"
    audit.append(
        "approval.expired_by_operator",
        actor=OPERATOR,
        action_id=action_id,
        conversation_id=record.conversation_id,
        detail={"reason": reason},
    )
    if not record.slack_ts:
        return f"{action_id}: expired (it was never posted to Slack)"
    try:
        update_message(slack_client(), record)
    except (SlackClientError, OSError) as exc:
        return f"{action_id}: expired; its Slack message could not be redrawn ({exc})"
    return f"{action_id}: expired; its Slack message now says so"
