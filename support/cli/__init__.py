"""CLI commands: ``flask --app app db upgrade|downgrade``, ``apps ...`` (``support/cli/apps.py``),
``actions show|retry`` (``support/cli/actions.py``), ``inngest sync|ping``, ``doctor``, ``audit``."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from support import db, doctor, inngest_sync
from support.cli.actions import actions_cli
from support.cli.apps import apps_cli
from support.config import Config
from support.db.models import AuditLog

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
inngest_cli = AppGroup("inngest", help="Inngest registration.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Migrate the database to the latest schema (safe to run on every start)."""
    from support.db import migrate  # Alembic costs ~0.2 s of import: only when migrating

    migrate.upgrade(revision=revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.option("--revision", required=True, help="target revision, e.g. base")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION."""
    from support.db import migrate

    migrate.downgrade(revision=revision)
    click.echo(f"database at {revision}")


@inngest_cli.command("sync")
@click.option(
    "--url",
    default=None,
    help="public origin of this service (default: PUBLIC_URL; in dev mode only, else "
    "http://127.0.0.1:$PORT)",
)
def inngest_sync_command(url: str | None) -> None:
    """Register every function with the Inngest server (run after each deploy)."""
    try:
        message = inngest_sync.sync(current_app, url)
    except inngest_sync.SyncError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(message)


@click.command("audit")
@click.option("--action", "action_id", default=None, help="an action id (act_...)")
@click.option("--conversation", "conversation_id", default=None, help="a Front conversation id")
@click.option(
    "--limit",
    default=200,
    show_default=True,
    type=click.IntRange(min=1),
    help="most rows shown (the newest); a positive number",
)
@with_appcontext
def audit_command(action_id: str | None, conversation_id: str | None, limit: int) -> None:
    """Print the audit trail of an action or a conversation, oldest first."""
    if not action_id and not conversation_id:
        raise click.UsageError("give --action act_... or --conversation cnv_...")
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if action_id:
        query = query.where(AuditLog.action_id == action_id)
    if conversation_id:
        query = query.where(AuditLog.conversation_id == conversation_id)
    with db.session() as s:
        rows = list(reversed(list(s.scalars(query))))
    if not rows:
        click.echo("no audit rows match")
        return
    for row in rows:
        detail = json.dumps(row.detail, sort_keys=True, default=str) if row.detail else ""
        click.echo(
            f"{row.created_at:%Y-%m-%d %H:%M:%S}  {row.event:<20} {row.actor:<14} "
            f"{row.action_id or '-'}  {row.conversation_id or '-'}  {detail}".rstrip()
        )


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check the configuration and reach every outside service; exit 1 when a check fails."""
    # Absent when app.py built the doctor-only app because the configuration does not load:
    # doctor then reads the environment itself and reports each problem.
    config: Config | None = current_app.extensions.get("support.config")
    report = doctor.run(config)
    click.echo(report.render())
    if report.failed:
        raise SystemExit(report.exit_code)


@inngest_cli.command("ping")
def inngest_ping_command() -> None:
    """Send support/ping: its run appends an `inngest.ping` audit row (proves the whole loop)."""
    from support import inngest_client
    from support.events import Ping

    try:
        ids = inngest_client.send(Ping(requested_by="cli").to_event())
    except Exception as exc:
        raise click.ClickException(
            f"could not send support/ping: {exc} (check INNGEST_EVENT_KEY and the Inngest URL)"
        ) from None
    click.echo(f"sent support/ping (event id {', '.join(ids)}); look for an inngest.ping audit row")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(apps_cli)
    app.cli.add_command(actions_cli)
    app.cli.add_command(inngest_cli)
    app.cli.add_command(doctor_command)
    app.cli.add_command(audit_command)
