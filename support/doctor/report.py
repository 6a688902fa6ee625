"""The report: one ``Check`` per line, the fix under each failure, secrets masked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import httpx

from support.config import SETTINGS

Status = Literal["ok", "warn", "fail"]

TIMEOUT_SECONDS = 5.0

FIXES: dict[str, str] = {s.env: s.fix_text for s in SETTINGS}
"""Each variable's fix, as declared on its ``Setting``."""


@dataclass(frozen=True)
class Check:
    """One line of the report. ``fix`` says what to change and where; shown for warn and fail."""

    status: Status
    name: str
    detail: str
    fix: str | None = None


@dataclass
class Report:
    checks: list[Check]
    secrets: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def render(self) -> str:
        width = max((len(c.name) for c in self.checks), default=0)
        lines = []
        for c in self.checks:
            lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
            if c.fix and c.status != "ok":
                lines.append(f"{'':<4}  {'':<{width}}  fix: {c.fix}")
        fails = sum(c.status == "fail" for c in self.checks)
        warns = sum(c.status == "warn" for c in self.checks)
        lines.append(
            f"{fails} failed, {warns} warning{'s' if warns != 1 else ''}, "
            f"{len(self.checks) - fails - warns} ok"
        )
        return mask("\n".join(lines), self.secrets)


def set_or_fail(name: str, env: str, value: object, unset_means: str) -> Check:
    """``ok  <name>  set`` when the variable has a value, else a failure saying what breaks."""
    if value:
        return Check("ok", name, "set")
    return Check("fail", name, f"{env} unset: {unset_means}", FIXES[env])


def mask(output: str, secrets: Iterable[str]) -> str:
    """``output`` with every secret value (4+ characters) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        output = output.replace(secret, "***")
    return output


def error_text(exc: BaseException) -> str:
    """``Type: first line`` of an exception (or the driver error SQLAlchemy wraps)."""
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {str(inner).splitlines()[0] if str(inner) else ''}".strip()


def json_field(response: httpx.Response, key: str) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get(key) if isinstance(body, dict) else None
    return str(value) if value else None
