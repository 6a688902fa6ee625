"""``flask --app app apps ...``: register, list, change, re-key and remove product apps; ``check``
their integration API (``support/conformance.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Unpack

import click
from flask.cli import AppGroup

from support import apps as app_registry

apps_cli = AppGroup("apps", help="Register the product apps whose Front inboxes we work.")


@contextmanager
def _app_errors() -> Iterator[None]:
    """An ``AppError`` (bad input, unknown app) becomes a click error: its message, exit 1."""
    try:
        yield
    except app_registry.AppError as exc:
        raise click.ClickException(str(exc)) from None


@apps_cli.command("add")
@click.option("--slug", required=True, help="short id, e.g. acme")
@click.option("--name", required=True, help="display name")
@click.option("--front-inbox", "front_inbox_id", required=True, help="Front inbox id (inb_...)")
@click.option(
    "--integration-url",
    "integration_base_url",
    required=True,
    help="base URL of the app's integration API",
)
@click.option("--integration-secret", required=True, help="shared secret signing integration calls")
@click.option("--slack-channel", default=None, help="approval channel id for this app (C...)")
def apps_add(**fields: Unpack[app_registry.NewApp]) -> None:
    """Register a product app."""
    with _app_errors():
        app = app_registry.add(**fields)
    click.echo(f"added app {app.slug} (id {app.id}) for inbox {app.front_inbox_id}")


@apps_cli.command("list")
def apps_list() -> None:
    """List registered apps (secrets are not shown)."""
    rows = app_registry.all_apps()
    if not rows:
        click.echo("no apps registered; add one with `flask --app app apps add`")
        return
    for a in rows:
        click.echo(
            f"{a.id}\t{a.slug}\t{a.name}\t{a.front_inbox_id}\t{a.integration_base_url}\t"
            f"{a.slack_channel or '-'}\tauto-send {'on' if a.auto_send_enabled else 'off'}"
        )


@apps_cli.command("update")
@click.argument("slug")
@click.option("--name", default=None, help="display name")
@click.option("--front-inbox", "front_inbox", default=None, help="Front inbox id (inb_...)")
@click.option("--integration-url", default=None, help="base URL of the app's integration API")
@click.option(
    "--slack-channel",
    default=None,
    help="approval channel id (C...); `none` = use SLACK_APPROVAL_CHANNEL",
)
@click.option(
    "--auto-send/--no-auto-send",
    "auto_send",
    default=None,
    help="let trusted drafts be sent without a human (off by default)",
)
def apps_update(
    slug: str,
    name: str | None,
    front_inbox: str | None,
    integration_url: str | None,
    slack_channel: str | None,
    auto_send: bool | None,
) -> None:
    """Change a registered app; only the options given change. The secret: `rotate-secret`."""
    if all(v is None for v in (name, front_inbox, integration_url, slack_channel, auto_send)):
        raise click.UsageError(
            "give at least one of --name, --front-inbox, --integration-url, --slack-channel, "
            "--auto-send/--no-auto-send"
        )
    channel = app_registry.UNSET if slack_channel in ("none", "-") else slack_channel
    with _app_errors():
        changes = app_registry.update(
            slug,
            name=name,
            front_inbox_id=front_inbox,
            integration_base_url=integration_url,
            slack_channel=channel,
            auto_send_enabled=auto_send,
        )
    if not changes:
        click.echo(f"app {slug}: nothing changed (the values given are the current ones)")
        return
    for field, (old, new) in changes.items():
        click.echo(f"app {slug}: {field} {old!r} -> {new!r}")


@apps_cli.command("rotate-secret")
@click.argument("slug")
def apps_rotate_secret(slug: str) -> None:
    """Give the app a new random integration secret and print it, once."""
    with _app_errors():
        secret = app_registry.rotate_secret(slug)
    click.echo(
        f"new integration secret for {slug} (shown once; it is not logged). The product app must "
        "use it from now on: calls signed with the old one are refused (401) until it does."
    )
    click.echo(secret)


@apps_cli.command("remove")
@click.argument("slug")
@click.option("--force", is_flag=True, help="expire the app's pending approvals first")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def apps_remove(slug: str, force: bool, yes: bool) -> None:
    """Remove an app with its actions and drafts (the audit log keeps their trail).

    Refused while the app has pending approvals, unless --force: each is then expired (its Slack
    message redrawn as expired, an `approval.expired_by_operator` audit row) before the removal.
    """
    from support.cli.actions import expire_visibly

    with _app_errors():
        app = app_registry.by_slug(slug)
    pending = app_registry.pending_approvals(app.id)
    if pending and not force:
        raise click.ClickException(
            f"app {slug} has {len(pending)} pending approval(s): {', '.join(pending)}. Decide "
            "them in Slack first, or pass --force to expire them (their messages say so)"
        )
    counts = app_registry.history(app.id)
    what = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "no history"
    if not yes:
        click.confirm(
            f"Remove app {slug} (inbox {app.front_inbox_id}) and its rows ({what}; the audit log "
            "keeps their trail)?",
            abort=True,
        )
    for action_id in pending:
        click.echo(expire_visibly(action_id, reason=f"app {slug} removed"))
    with _app_errors():
        deleted = app_registry.remove(slug)
    click.echo(
        f"removed app {slug} ({deleted['actions']} actions, {deleted['drafts']} drafts deleted); "
        f"Front webhooks for {app.front_inbox_id} are now ignored"
    )


@apps_cli.command("check")
@click.argument("slug")
def apps_check(slug: str) -> None:
    """Check the app's live integration API against the contract; changes nothing.

    A signed read answers in shape; unsigned, wrongly signed, stale and future-dated calls are
    refused with 401. One line per check with its time, and the fix when it fails; exit 1 when
    a check fails.
    """
    from flask import current_app

    from support import conformance
    from support.config import Config

    with _app_errors():
        app = app_registry.by_slug(slug)
    config: Config = current_app.extensions["support.config"]
    report = conformance.run(
        slug=slug,
        base_url=app.integration_base_url,
        secret=app.integration_secret,
        timeout=config.integration_timeout_seconds,
    )
    click.echo(f"app {slug}: {app.integration_base_url} (contract: docs/integration-api.md)")
    click.echo(report.render())
    if report.failed:
        raise SystemExit(1)
