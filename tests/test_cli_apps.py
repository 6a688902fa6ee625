"""The app lifecycle and action commands through Flask's CLI runner: `apps add|update|
rotate-secret|remove`, `actions show|retry`, `audit --limit`. Every refusal changes nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from app import create_app
from support import db
from support.db import migrate
from support.db.models import Action, App, ApprovalRequest, AuditLog, utcnow
from tests.apps_cli import apps_add_args
from tests.fakes.slack import SlackFake
from tests.world import (
    APPROVAL_CHANNEL,
    INTEGRATION_SECRET,
    SLACK_TOKEN,
    TEAM_ID,
    approval_row,
    audit_rows,
    make_request,
    open_world,
    settings,
)


@pytest.fixture
def runner(tmp_path: Path) -> FlaskCliRunner:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    return create_app(
        {"INNGEST_DEV": "1", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    ).test_cli_runner()


def add(runner: FlaskCliRunner, slug: str = "acme", **kw: str) -> Any:
    return runner.invoke(args=apps_add_args(slug, **kw))


def app_row(slug: str) -> App | None:
    with db.session() as s:
        return s.scalar(select(App).where(App.slug == slug))


def test_add_names_the_field_that_collided(runner: FlaskCliRunner) -> None:
    assert add(runner).exit_code == 0
    same_slug = add(runner, "acme", **{"--front-inbox": "inb_other"})
    assert same_slug.exit_code != 0 and "slug 'acme' already exists" in same_slug.output
    assert "inbox" not in same_slug.output
    same_inbox = add(runner, "beta", **{"--front-inbox": "inb_acme"})
    assert same_inbox.exit_code != 0
    assert "inbox 'inb_acme' already exists: it belongs to app 'acme'" in same_inbox.output
    assert "slug" not in same_inbox.output
    assert app_row("beta") is None


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--slack-channel", "#support", "is not a channel id"),
        ("--slack-channel", "c0123abc", "is not a channel id"),
        ("--slack-channel", "U0123ABC", "is not a channel id"),
        ("--integration-url", "https://acme.example.com/has space", "without spaces"),
        ("--integration-url", "https://acme example.com", "without spaces"),
        ("--integration-url", "acme.example.com", "http(s) URL"),
    ],
)
def test_add_refuses_bad_channels_and_urls(
    runner: FlaskCliRunner, option: str, value: str, message: str
) -> None:
    result = add(runner, **{option: value})
    assert result.exit_code != 0 and message in result.output
    assert app_row("acme") is None


def test_add_accepts_a_channel_id(runner: FlaskCliRunner) -> None:
    for slug, channel in (("acme", "C0123ABCD"), ("beta", "G0PRIVATE1")):
        assert add(runner, slug, **{"--slack-channel": channel}).exit_code == 0
        row = app_row(slug)
        assert row is not None and row.slack_channel == channel


def test_update_changes_only_what_is_given_and_audits_it(runner: FlaskCliRunner) -> None:
    assert add(runner).exit_code == 0
    assert add(runner, "beta").exit_code == 0
    result = runner.invoke(
        args=[
            "apps",
            "update",
            "acme",
            "--name",
            "Acme Academy",
            "--integration-url",
            "https://api.acme.example.com/",
            "--slack-channel",
            "C0NEW1",
            "--auto-send",
        ]
    )
    assert result.exit_code == 0, result.output
    row = app_row("acme")
    assert row is not None
    assert (row.name, row.integration_base_url, row.slack_channel, row.auto_send_enabled) == (
        "Acme Academy",
        "https://api.acme.example.com",
        "C0NEW1",
        True,
    )
    assert row.front_inbox_id == "inb_acme" and row.integration_secret == INTEGRATION_SECRET
    assert "name 'Acme' -> 'Acme Academy'" in result.output
    with db.session() as s:
        (log,) = s.scalars(select(AuditLog).where(AuditLog.event == "app.updated")).all()
        assert log.actor == "ops:cli" and set(log.detail["changes"]) == {
            "name",
            "integration_base_url",
            "slack_channel",
            "auto_send_enabled",
        }

    cleared = runner.invoke(
        args=["apps", "update", "acme", "--slack-channel", "none", "--no-auto-send"]
    )
    assert cleared.exit_code == 0, cleared.output
    row = app_row("acme")
    assert row is not None and row.slack_channel is None and row.auto_send_enabled is False

    # refusals change nothing
    for args, message in (
        (
            ["--front-inbox", "inb_beta"],
            "inbox 'inb_beta' already exists: it belongs to app 'beta'",
        ),
        (["--slack-channel", "general"], "is not a channel id"),
        (["--integration-url", "https://x .example.com"], "without spaces"),
        (["--name", "  "], "name must not be empty"),
        ([], "give at least one of"),
    ):
        refused = runner.invoke(args=["apps", "update", "acme", *args])
        assert refused.exit_code != 0 and message in refused.output, (args, refused.output)
    unknown = runner.invoke(args=["apps", "update", "nope", "--name", "X"])
    assert unknown.exit_code != 0 and "no app with slug 'nope'" in unknown.output
    row = app_row("acme")
    assert row is not None and row.name == "Acme Academy" and row.front_inbox_id == "inb_acme"


def test_rotate_secret_prints_the_new_secret_once(runner: FlaskCliRunner) -> None:
    assert add(runner).exit_code == 0
    result = runner.invoke(args=["apps", "rotate-secret", "acme"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    row = app_row("acme")
    assert row is not None and row.integration_secret == secret != INTEGRATION_SECRET
    assert len(secret) >= 32
    with db.session() as s:
        logs = s.scalars(select(AuditLog).where(AuditLog.event == "app.secret_rotated")).all()
        assert len(logs) == 1 and secret not in str(logs[0].detail)
    assert secret not in runner.invoke(args=["apps", "list"]).output
    assert runner.invoke(args=["apps", "rotate-secret", "nope"]).exit_code != 0


def test_audit_limit_takes_positive_numbers_only(runner: FlaskCliRunner) -> None:
    for bad in ("0", "-3", "many"):
        result = runner.invoke(args=["audit", "--action", "act_x", "--limit", bad])
        assert result.exit_code == 2 and "--limit" in result.output, (bad, result.output)
    assert runner.invoke(args=["audit", "--action", "act_x", "--limit", "1"]).exit_code == 0


# --- remove, with pending approvals expired visibly ------------------------------------------


def test_remove_is_refused_while_approvals_are_pending_and_force_expires_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'rm.db'}"
    migrate.upgrade(url)
    with SlackFake(token=SLACK_TOKEN, team_id=TEAM_ID) as slack:
        runner = create_app(settings(url, SLACK_API_BASE_URL=slack.url + "/api/")).test_cli_runner()
        assert add(runner).exit_code == 0
        row = app_row("acme")
        assert row is not None
        posted = "1700000000.000100"
        slack.add_message(APPROVAL_CHANNEL, posted, "approval request", blocks=[])
        pending = make_request(row.id, slack_channel=APPROVAL_CHANNEL, slack_ts=posted)
        unposted = make_request(row.id)

        refused = runner.invoke(args=["apps", "remove", "acme", "--yes"])
        assert refused.exit_code != 0
        assert "2 pending approval(s)" in refused.output and pending in refused.output
        assert app_row("acme") is not None and approval_row(pending)["status"] == "pending"

        removed = runner.invoke(args=["apps", "remove", "acme", "--force", "--yes"])
        assert removed.exit_code == 0, removed.output
        assert f"{pending}: expired; its Slack message now says so" in removed.output
        assert f"{unposted}: expired (it was never posted to Slack)" in removed.output
        assert app_row("acme") is None
        message = slack.message(APPROVAL_CHANNEL, posted)
        assert "Expired, no action taken" in str(message["blocks"])
        ids = {
            e.get("action_id")
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        }
        assert "approve_action" not in ids and "reject_action" not in ids, "buttons remain"
        events = [r["event"] for r in audit_rows(pending)]
        assert "approval.expired" in events and "approval.expired_by_operator" in events
        with db.session() as s:
            assert s.get(Action, pending) is None and s.get(ApprovalRequest, pending) is None
            (log,) = s.scalars(select(AuditLog).where(AuditLog.event == "app.removed")).all()
            assert log.detail["deleted"]["actions"] == 2
        assert "inb_acme" in removed.output

        gone = runner.invoke(args=["apps", "remove", "acme", "--yes"])
        assert gone.exit_code != 0 and "no app with slug 'acme'" in gone.output


def test_remove_asks_before_deleting(runner: FlaskCliRunner) -> None:
    assert add(runner).exit_code == 0
    declined = runner.invoke(args=["apps", "remove", "acme"], input="n\n")
    assert declined.exit_code != 0 and app_row("acme") is not None
    accepted = runner.invoke(args=["apps", "remove", "acme"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert app_row("acme") is None


# --- actions show / retry ----------------------------------------------------------------------


def fail_action(action_id: str, error: str) -> None:
    """The state execute-action leaves after a failed execution of an approved action."""
    with db.session() as s:
        approval = s.get(ApprovalRequest, action_id)
        action = s.get(Action, action_id)
        assert approval is not None and action is not None
        approval.status, approval.decided_by = "approved", "U0APPROVER1"
        approval.decided_at = approval.resolved_at = utcnow()
        action.status, action.error = "failed", error
        action.executed_at = utcnow() - dt.timedelta(minutes=5)


def request_of_an_added_app(runner: FlaskCliRunner) -> str:
    """``flask apps add`` (acme), then a pending request of that app; returns its action id."""
    assert add(runner).exit_code == 0
    row = app_row("acme")
    assert row is not None
    return make_request(row.id)


def test_show_prints_the_action(runner: FlaskCliRunner) -> None:
    action_id = request_of_an_added_app(runner)
    fail_action(action_id, "integration timed out")
    result = runner.invoke(args=["actions", "show", action_id])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"action         {action_id}" in out and "status         failed" in out
    assert "integration timed out" in out and "approval       approved" in out
    assert f"flask --app app actions retry {action_id}" in out
    missing = runner.invoke(args=["actions", "show", "act_nope"])
    assert missing.exit_code != 0 and "no action 'act_nope'" in missing.output


def test_retry_refuses_what_is_not_failed(runner: FlaskCliRunner) -> None:
    action_id = request_of_an_added_app(runner)
    result = runner.invoke(args=["actions", "retry", action_id])
    assert result.exit_code != 0 and "only a failed action can be retried" in result.output
    assert approval_row(action_id)["action_status"] == "pending_approval"
    assert runner.invoke(args=["actions", "retry", "act_nope"]).exit_code != 0


def test_retry_undoes_the_release_when_the_event_cannot_be_sent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrate.upgrade(url)
    runner = create_app(
        {"INNGEST_DEV": "1", "DATABASE_URL": url, "INNGEST_BASE_URL": "http://127.0.0.1:9"}
    ).test_cli_runner()
    action_id = request_of_an_added_app(runner)
    fail_action(action_id, "integration timed out")
    result = runner.invoke(args=["actions", "retry", action_id])
    assert result.exit_code != 0 and "could not send support/action.execute" in result.output
    after = approval_row(action_id)
    assert after["action_status"] == "failed" and after["error"] == "integration timed out"
    events = [r["event"] for r in audit_rows(action_id)]
    assert events[-2:] == ["action.retry_released", "action.retry_not_started"]


def test_retry_reruns_a_failed_refund_with_the_same_idempotency_key(
    clean_db: str, inngest: Any
) -> None:
    with open_world(clean_db, inngest=inngest) as world:
        action_id = world.new_request()
        fail_action(action_id, "integration timed out after 3 attempts")
        runner = create_app(settings(clean_db, INNGEST_BASE_URL=inngest.url)).test_cli_runner()
        result = runner.invoke(args=["actions", "retry", action_id])
        assert result.exit_code == 0, result.output
        assert f"Idempotency-Key ({action_id})" in result.output
        inngest.wait_idle()
        row = approval_row(action_id)
        assert row["action_status"] == "succeeded", row
        (refund,) = world.integration.refunds
        assert refund["idempotency_key"] == action_id
        events = [r["event"] for r in audit_rows(action_id)]
        assert events[-3:] == ["action.retry_released", "action.claimed", "action.succeeded"]
        again = runner.invoke(args=["actions", "retry", action_id])
        assert again.exit_code != 0 and "it already succeeded" in again.output
