"""``Config`` (the validated settings) and ``load``, which reads every ``Setting`` from the
environment and reports every problem at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.config.settings import SETTINGS


class ConfigError(Exception):
    """One or more settings are missing or malformed; the message lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'var' / 'support-agent.db'}"


@dataclass(frozen=True, kw_only=True)
class Config:
    """Validated settings. Build with ``load()``; tests pass a mapping instead of the environment.

    One field per ``Setting.attr``, without defaults: ``load`` fills every field from ``SETTINGS``.
    """

    database_url: str
    log_level: str
    public_url: str | None
    port: int
    max_body_bytes: int
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_api_base_url: str
    slack_approval_channel: str | None
    slack_alert_channel: str | None
    slack_approver_ids: tuple[str, ...]
    slack_team_id: str | None
    approval_timeout_hours: float
    approval_reminder_hours: float
    front_api_token: str | None
    front_api_base_url: str
    front_webhook_secret: str | None
    front_timeout_seconds: float
    integration_timeout_seconds: float
    anthropic_api_key: str | None
    anthropic_model: str
    anthropic_base_url: str | None
    agent_max_turns: int
    agent_max_tokens: int
    inngest_dev: str | None
    inngest_base_url: str | None
    inngest_api_base_url: str | None
    inngest_event_api_base_url: str | None
    inngest_event_key: str | None
    inngest_signing_key: str | None
    inngest_signing_key_fallback: str | None
    inngest_sync_on_start: bool
    metrics_token: str | None
    prometheus_multiproc_dir: str | None
    log_format: str
    sentry_dsn: str | None
    extra: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    """What a strict ``load`` would have raised; only ever non-empty from ``load(lenient=True)``."""

    @property
    def is_dev(self) -> bool:
        return self.inngest_dev is not None and self.inngest_dev.lower() not in ("0", "false")

    @property
    def inngest_dev_server_url(self) -> str | None:
        """The dev server origin when INNGEST_DEV holds a URL rather than a flag."""
        if self.inngest_dev and self.inngest_dev.startswith("http"):
            return self.inngest_dev.rstrip("/")
        return None

    @property
    def inngest_api_origin(self) -> str | None:
        return self.inngest_api_base_url or self.inngest_base_url or self.inngest_dev_server_url

    @property
    def inngest_event_origin(self) -> str | None:
        return (
            self.inngest_event_api_base_url or self.inngest_base_url or self.inngest_dev_server_url
        )

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def missing(self, *attrs: str) -> list[str]:
        """Names of the environment variables behind ``attrs`` that are unset."""
        by_attr = {s.attr: s.env for s in SETTINGS}
        return [by_attr[a] for a in attrs if not getattr(self, a)]

    def redacted(self) -> dict[str, Any]:
        """The settings with every secret replaced by ``set``/``unset``: safe to log."""
        out: dict[str, Any] = {}
        for s in SETTINGS:
            value = getattr(self, s.attr)
            out[s.env] = ("set" if value else "unset") if s.secret else value
        return out


def load(environ: Mapping[str, str] | None = None, *, lenient: bool = False) -> Config:
    """Read and validate every setting; raise ``ConfigError`` listing every problem at once.

    ``lenient=True`` (``flask doctor``) never raises: a malformed value falls back to its default
    (``DATABASE_URL``: the empty string, so nothing connects to a guessed database), and the
    problems a strict load would raise are kept in ``Config.problems``.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = env.get(setting.env)
        if raw is not None and raw.strip() == "" and setting.default is None:
            raw = None
        if raw is None:
            raw = setting.default
        if raw is None:
            values[setting.attr] = None
            continue
        try:
            values[setting.attr] = setting.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if setting.secret else repr(raw)
            problems.append(f"{setting.env}={shown} is malformed: {exc}")
            fallback = setting.default if raw != setting.default else None
            values[setting.attr] = setting.parse(fallback) if fallback is not None else None
    if values["database_url"] is None:
        malformed = any(p.startswith("DATABASE_URL=") for p in problems)
        values["database_url"] = "" if malformed else _default_database_url()
    dev = values.get("inngest_dev")
    is_dev = dev is not None and str(dev).lower() not in ("0", "false")
    if not is_dev:
        for setting in SETTINGS:
            if setting.required_in_cloud and values.get(setting.attr) is None:
                problems.append(
                    f"{setting.env} is required in Inngest cloud mode "
                    "(set INNGEST_DEV=1 for local development)"
                )
    if problems and not lenient:
        raise ConfigError(problems)
    return Config(**values, problems=tuple(problems))
