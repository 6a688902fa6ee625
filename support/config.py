"""Every setting of the service, read from the environment and validated once.

This module is the single source of truth for configuration: the README's configuration table is
generated from ``SETTINGS`` (``python -m support.config``) and a test fails when the two drift apart.

Rules:

* Nothing is read at import time; ``load()`` reads ``os.environ`` (or a mapping given by tests) and
  raises one ``ConfigError`` naming every missing or malformed variable.
* Production (Inngest cloud) mode unless ``INNGEST_DEV`` is set. Cloud mode requires the Inngest keys,
  because the SDK cannot serve or send without them.
* The other secrets are optional at start-up so that a partial install still serves ``/healthz``: the
  door that needs a missing secret answers 503 with the variable's name, and ``flask doctor`` lists it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """One or more settings are missing or malformed; the message lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http(s) URL")
    return value


def _url_with_slash(value: str) -> str:
    return _url(value).rstrip("/") + "/"


def _url_without_slash(value: str) -> str:
    return _url(value).rstrip("/")


def _database_url(value: str) -> str:
    if not re.match(r"^(sqlite|mysql\+pymysql|mysql)://", value):
        raise ValueError("must start with sqlite:// or mysql+pymysql://")
    if value.startswith("mysql://"):
        value = "mysql+pymysql://" + value[len("mysql://") :]
    return value


def _id_list(value: str) -> tuple[str, ...]:
    ids = tuple(part.strip() for part in value.split(",") if part.strip())
    for item in ids:
        if not re.fullmatch(r"[UW][A-Z0-9]{2,}", item):
            raise ValueError(f"{item!r} is not a Slack user id (like U0123ABCD)")
    return ids


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be greater than 0")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("must be a whole number greater than 0")
    return number


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _signing_key(value: str) -> str:
    match = re.fullmatch(r"signkey-[a-z]+-([0-9a-fA-F]+)", value.strip())
    if not match:
        raise ValueError("must look like signkey-<env>-<hex>")
    return value.strip()


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


def _text(value: str) -> str:
    return value.strip()


@dataclass(frozen=True)
class Setting:
    """One environment variable: its attribute, default, parser and documentation."""

    env: str
    attr: str
    help: str
    default: str | None = None
    parse: Callable[[str], Any] = _text
    secret: bool = False
    required_in_cloud: bool = False
    group: str = "general"


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'var' / 'support-agent.db'}"


SETTINGS: tuple[Setting, ...] = (
    # --- general ---
    Setting(
        "DATABASE_URL",
        "database_url",
        "SQLAlchemy URL: `mysql+pymysql://user:pass@host/db` in production; unset = SQLite "
        "file `./var/support-agent.db`.",
        None,
        _database_url,
        group="data",
    ),
    Setting(
        "LOG_LEVEL", "log_level", "Log level (DEBUG, INFO, WARNING, ERROR).", "INFO", _log_level
    ),
    Setting(
        "PUBLIC_URL",
        "public_url",
        "Public origin of this service (for links and `inngest sync`), e.g. "
        "`https://support.example.com`.",
        None,
        _url_without_slash,
    ),
    Setting(
        "MAX_BODY_BYTES",
        "max_body_bytes",
        "Largest request body accepted on any door; larger ones get 413.",
        "1048576",
        _positive_int,
    ),
    # --- Slack ---
    Setting(
        "SLACK_BOT_TOKEN",
        "slack_bot_token",
        "Bot token (`xoxb-...`) of the Slack app.",
        secret=True,
        group="slack",
    ),
    Setting(
        "SLACK_SIGNING_SECRET",
        "slack_signing_secret",
        "Signing secret of the Slack app; checked on every `/slack/events` request.",
        secret=True,
        group="slack",
    ),
    Setting(
        "SLACK_API_BASE_URL",
        "slack_api_base_url",
        "Slack Web API base URL.",
        "https://slack.com/api/",
        _url_with_slash,
        group="slack",
    ),
    Setting(
        "SLACK_APPROVAL_CHANNEL",
        "slack_approval_channel",
        "Channel id where approval requests are posted (an app may override it).",
        group="slack",
    ),
    Setting(
        "SLACK_ALERT_CHANNEL",
        "slack_alert_channel",
        "Channel id for failure alerts (a run that exhausted its retries). Empty = "
        "SLACK_APPROVAL_CHANNEL.",
        group="slack",
    ),
    Setting(
        "SLACK_APPROVER_IDS",
        "slack_approver_ids",
        "Comma-separated Slack user ids allowed to decide. Empty = anyone in the channel "
        "(logged loudly at start-up).",
        "",
        _id_list,
        group="slack",
    ),
    Setting(
        "SLACK_TEAM_ID",
        "slack_team_id",
        "Expected Slack workspace (team) id; clicks from another team are refused.",
        group="slack",
    ),
    Setting(
        "APPROVAL_TIMEOUT_HOURS",
        "approval_timeout_hours",
        "How long an approval request waits before it expires.",
        "24",
        _positive_float,
        group="slack",
    ),
    Setting(
        "APPROVAL_REMINDER_HOURS",
        "approval_reminder_hours",
        "Remind approvers in the thread this many hours before expiry (0 = no reminder).",
        "4",
        float,
        group="slack",
    ),
    # --- Front ---
    Setting(
        "FRONT_API_TOKEN",
        "front_api_token",
        "Front API token (Bearer).",
        secret=True,
        group="front",
    ),
    Setting(
        "FRONT_API_BASE_URL",
        "front_api_base_url",
        "Front Core API base URL.",
        "https://api2.frontapp.com",
        _url_without_slash,
        group="front",
    ),
    Setting(
        "FRONT_WEBHOOK_SECRET",
        "front_webhook_secret",
        "Front application secret; signs `/webhooks/front` deliveries.",
        secret=True,
        group="front",
    ),
    # --- Anthropic ---
    Setting(
        "FRONT_TIMEOUT_SECONDS",
        "front_timeout_seconds",
        "Timeout of each Front API call; a timed-out step is retried by Inngest.",
        "15",
        _positive_float,
        group="front",
    ),
    Setting(
        "INTEGRATION_TIMEOUT_SECONDS",
        "integration_timeout_seconds",
        "Timeout of each call to a product app's integration API (refunds are idempotent, so a "
        "timed-out call is retried safely).",
        "10",
        _positive_float,
        group="front",
    ),
    Setting(
        "ANTHROPIC_API_KEY",
        "anthropic_api_key",
        "Anthropic API key.",
        secret=True,
        group="anthropic",
    ),
    Setting(
        "ANTHROPIC_MODEL",
        "anthropic_model",
        "Claude model id used by the agent.",
        "claude-sonnet-4-6",
        group="anthropic",
    ),
    Setting(
        "ANTHROPIC_BASE_URL",
        "anthropic_base_url",
        "Anthropic API base URL (as the SDK reads it); unset = the SDK's default.",
        None,
        _url_without_slash,
        group="anthropic",
    ),
    Setting(
        "AGENT_MAX_TURNS",
        "agent_max_turns",
        "Most model calls in one agent tool loop.",
        "8",
        _positive_int,
        group="anthropic",
    ),
    Setting(
        "AGENT_MAX_TOKENS",
        "agent_max_tokens",
        "max_tokens of each model call.",
        "2048",
        _positive_int,
        group="anthropic",
    ),
    # --- Inngest ---
    Setting(
        "INNGEST_DEV",
        "inngest_dev",
        "Set (to `1` or the dev server URL) for dev mode; unset = Inngest Cloud mode.",
        group="inngest",
    ),
    Setting(
        "INNGEST_BASE_URL",
        "inngest_base_url",
        "Origin of a self-hosted or dev Inngest server (sets both API and event URLs).",
        None,
        _url_without_slash,
        group="inngest",
    ),
    Setting(
        "INNGEST_API_BASE_URL",
        "inngest_api_base_url",
        "Inngest REST API origin.",
        None,
        _url_without_slash,
        group="inngest",
    ),
    Setting(
        "INNGEST_EVENT_API_BASE_URL",
        "inngest_event_api_base_url",
        "Inngest Event API origin.",
        None,
        _url_without_slash,
        group="inngest",
    ),
    Setting(
        "INNGEST_EVENT_KEY",
        "inngest_event_key",
        "Event key for sending events.",
        secret=True,
        required_in_cloud=True,
        group="inngest",
    ),
    Setting(
        "INNGEST_SIGNING_KEY",
        "inngest_signing_key",
        "Signing key (`signkey-prod-...`); requests to `/api/inngest` must be signed with it.",
        None,
        _signing_key,
        secret=True,
        required_in_cloud=True,
        group="inngest",
    ),
    Setting(
        "INNGEST_SIGNING_KEY_FALLBACK",
        "inngest_signing_key_fallback",
        "Previous signing key, accepted during a key rotation.",
        None,
        _signing_key,
        secret=True,
        group="inngest",
    ),
    Setting(
        "INNGEST_SYNC_ON_START",
        "inngest_sync_on_start",
        "Register the functions with Inngest when gunicorn starts (needs `PUBLIC_URL`).",
        "false",
        _bool,
        group="inngest",
    ),
)


@dataclass(frozen=True)
class Config:
    """Validated settings. Build with ``load()``; tests pass a mapping instead of the environment."""

    database_url: str
    log_level: str = "INFO"
    public_url: str | None = None
    max_body_bytes: int = 1048576
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_base_url: str = "https://slack.com/api/"
    slack_approval_channel: str | None = None
    slack_alert_channel: str | None = None
    slack_approver_ids: tuple[str, ...] = ()
    slack_team_id: str | None = None
    approval_timeout_hours: float = 24.0
    approval_reminder_hours: float = 4.0
    front_api_token: str | None = None
    front_api_base_url: str = "https://api2.frontapp.com"
    front_webhook_secret: str | None = None
    front_timeout_seconds: float = 15.0
    integration_timeout_seconds: float = 10.0
    anthropic_api_key: str | None = None
    anthropic_model: str = "claude-sonnet-4-6"
    anthropic_base_url: str | None = None
    agent_max_turns: int = 8
    agent_max_tokens: int = 2048
    inngest_dev: str | None = None
    inngest_base_url: str | None = None
    inngest_api_base_url: str | None = None
    inngest_event_api_base_url: str | None = None
    inngest_event_key: str | None = None
    inngest_signing_key: str | None = None
    inngest_signing_key_fallback: str | None = None
    inngest_sync_on_start: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

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


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate every setting; raise ``ConfigError`` listing every problem at once."""
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
    if values.get("database_url") is None and not any(
        p.startswith("DATABASE_URL") for p in problems
    ):
        values["database_url"] = _default_database_url()
    dev = values.get("inngest_dev")
    is_dev = dev is not None and str(dev).lower() not in ("0", "false")
    if not is_dev:
        for setting in SETTINGS:
            if setting.required_in_cloud and values.get(setting.attr) is None:
                problems.append(
                    f"{setting.env} is required in Inngest cloud mode "
                    "(set INNGEST_DEV=1 for local development)"
                )
    if problems:
        raise ConfigError(problems)
    return Config(**values)


_current: Config | None = None


def set_current(config: Config) -> None:
    """Called by ``create_app``: the settings workflows and listeners read through ``current()``."""
    global _current
    _current = config


def current() -> Config:
    """The running service's settings (workflows run in the Flask process but never import Flask)."""
    if _current is None:
        raise RuntimeError("configuration not loaded: create_app() has not run")
    return _current


def markdown_table() -> str:
    """The README's configuration table, generated from ``SETTINGS``."""
    lines = ["| variable | default | secret | meaning |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default not in (None, "") else ""
        if s.required_in_cloud:
            default = "required in cloud mode"
        lines.append(f"| `{s.env}` | {default} | {'yes' if s.secret else ''} | {s.help} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
