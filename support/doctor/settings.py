"""``config``: every variable parses; in cloud mode the Inngest keys are present."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from support.config import SETTINGS, Config
from support.doctor.report import FIXES, Check


def problem_check(problem: str) -> Check:
    """A ``ConfigError`` problem (``NAME ... is malformed|required``) as a failed check."""
    match = re.match(r"([A-Z][A-Z0-9_]+)", problem)
    env = match.group(1) if match else ""
    return Check("fail", "config", problem, FIXES.get(env))


def config_checks(config: Config, problems: list[str]) -> list[Check]:
    if problems:
        return [problem_check(p) for p in problems]
    mode = "dev (INNGEST_DEV)" if config.is_dev else "Inngest Cloud"
    db_kind = "SQLite" if config.uses_sqlite else "MySQL"
    return [Check("ok", "config", f"all settings parse; mode {mode}; database {db_kind}")]


def secrets_of(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    found = [str(getattr(config, s.attr) or "") for s in SETTINGS if s.secret]
    if environ is not None:
        found += [environ.get(s.env, "") for s in SETTINGS if s.secret]
    for url in (config.database_url, (environ or {}).get("DATABASE_URL", "")):
        try:
            password = make_url(url).password if url else None
        except (ArgumentError, ValueError):  # a malformed URL: no password to hide
            password = None
        if password:
            found.append(str(password))
    return [s for s in found if s]
