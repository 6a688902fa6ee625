"""``database``: ``SELECT 1`` and the Alembic revision equals the code's head; reads the apps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from support.config import Config
from support.doctor.report import FIXES, Check, error_text


@dataclass(frozen=True)
class AppRow:
    slug: str
    front_inbox_id: str
    integration_base_url: str
    slack_channel: str | None
    integration_secret: str


def shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # never echo it: it may hold a password
        return "(unparseable DATABASE_URL)"


def database_checks(config: Config) -> tuple[list[Check], list[AppRow] | None]:
    """(checks, registered apps); apps is None when the schema cannot be read."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from support import db
    from support.db import migrate
    from support.db.models import App

    url = config.database_url
    if not url:
        return [
            Check("fail", "database", "skipped: DATABASE_URL is malformed", FIXES["DATABASE_URL"])
        ], None
    shown = shown_url(url)
    if config.uses_sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not Path(path).exists():
            return [
                Check(
                    "fail",
                    "database",
                    f"SQLite file {path} does not exist",
                    "run `flask --app app db upgrade` (creates it), or set DATABASE_URL",
                )
            ], None
    engine: Engine | None = None
    try:
        engine = db.build_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
        heads = set(ScriptDirectory.from_config(migrate.alembic_config(url)).get_heads())
        checks = [Check("ok", "database", f"{shown} answers SELECT 1")]
        if current != heads:
            at = ",".join(sorted(current)) or "empty (no migrations applied)"
            checks.append(
                Check(
                    "fail",
                    "database.schema",
                    f"schema at {at}; the code expects {','.join(sorted(heads))}",
                    "run `flask --app app db upgrade`",
                )
            )
            return checks, None
        checks.append(Check("ok", "database.schema", f"at head {','.join(sorted(heads))}"))
        with Session(engine) as s:
            apps = [
                AppRow(
                    a.slug,
                    a.front_inbox_id,
                    a.integration_base_url,
                    a.slack_channel,
                    a.integration_secret,
                )
                for a in s.scalars(select(App).order_by(App.slug))
            ]
        return checks, apps
    except (SQLAlchemyError, OSError) as exc:
        return [
            Check(
                "fail",
                "database",
                f"cannot use {shown}: {error_text(exc)}",
                "check DATABASE_URL (host, port, user, password, database name) and that the "
                "server is running and reachable from here",
            )
        ], None
    finally:
        if engine is not None:
            engine.dispose()
