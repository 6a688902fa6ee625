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


def _port(value: str) -> int:
    number = int(value)
    if not 0 < number < 65536:
        raise ValueError("must be a TCP port (1-65535)")
    return number


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _signing_key(value: str) -> str:
    """``signkey-<env>-<hex>``: Inngest's are 64 hex digits; a self-hosted server takes any even
    number of them (the hex is decoded); fewer than 32 is a key cut short when copied."""
    match = re.fullmatch(r"signkey-[a-z]+-([0-9a-fA-F]+)", value.strip())
    if not match:
        raise ValueError("must look like signkey-<env>-<hex>")
    digits = match.group(1)
    if len(digits) % 2 or len(digits) < 32:
        raise ValueError("the hex part must be an even number of digits, 64 for Inngest Cloud")
    return value.strip()


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return level


def _text(value: str) -> str:
    return value.strip()


def _log_format(value: str) -> str:
    fmt = value.strip().lower()
    if fmt not in ("text", "json"):
        raise ValueError("must be text or json")
    return fmt


def _directory(value: str) -> str:
    if not os.path.isdir(value.strip()):
        raise ValueError("must be an existing directory")
    return value.strip()


@dataclass(frozen=True)
class Setting:
    """One environment variable: its attribute, default, parser, documentation and fix.

    This is the only declaration of a setting: ``Config`` has a typed field of the same ``attr``
    (no default there; the default lives here), and a test checks the two match.
    """

    env: str
    attr: str
    help: str
    default: str | None = None
    parse: Callable[[str], Any] = _text
    secret: bool = False
    required_in_cloud: bool = False
    group: str = "general"
    fix: str = ""
    """What to change and where when the variable is missing or malformed (``doctor`` shows it;
    empty: ``set <ENV>`` and the help text)."""

    @property
    def fix_text(self) -> str:
        return self.fix or f"set {self.env}: {self.help}"


SLACK_APPS = "https://api.slack.com/apps → your app"
FRONT_DEVELOPERS = "Front → Settings → Developers"
INNGEST_KEYS = "Inngest Cloud (app.inngest.com) → pick the environment → the key icon next to it"


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
        fix="set DATABASE_URL=mysql+pymysql://user:password@host/db "
        "(or leave it unset for the SQLite file ./var/support-agent.db)",
    ),
    Setting(
        "LOG_LEVEL",
        "log_level",
        "Log level (DEBUG, INFO, WARNING, ERROR).",
        "INFO",
        _log_level,
        fix="set LOG_LEVEL to DEBUG, INFO, WARNING or ERROR",
    ),
    Setting(
        "PUBLIC_URL",
        "public_url",
        "Public origin of this service (for links and `inngest sync`), e.g. "
        "`https://support.example.com`.",
        None,
        _url_without_slash,
        fix="set PUBLIC_URL to the https origin Slack, Front and Inngest reach this service "
        "at, e.g. https://support.example.com",
    ),
    Setting(
        "PORT",
        "port",
        "Port gunicorn listens on (`gunicorn.conf.py`; the image's default). `make run` uses 3000.",
        "8000",
        _port,
        fix="set PORT to the port this service listens on (1-65535), or unset it for 8000",
    ),
    Setting(
        "MAX_BODY_BYTES",
        "max_body_bytes",
        "Largest request body accepted on any door; larger ones get 413.",
        "1048576",
        _positive_int,
        fix="set MAX_BODY_BYTES to a whole number of bytes, or unset it",
    ),
    # --- Slack ---
    Setting(
        "SLACK_BOT_TOKEN",
        "slack_bot_token",
        "Bot token (`xoxb-...`) of the Slack app.",
        secret=True,
        group="slack",
        fix=f"{SLACK_APPS} → OAuth & Permissions → Bot User OAuth Token (xoxb-...) "
        "→ SLACK_BOT_TOKEN (install the app to the workspace first; see docs/setup-slack.md)",
    ),
    Setting(
        "SLACK_SIGNING_SECRET",
        "slack_signing_secret",
        "Signing secret of the Slack app; checked on every `/slack/events` request.",
        secret=True,
        group="slack",
        fix=f"{SLACK_APPS} → Basic Information → App Credentials → "
        "Signing Secret → SLACK_SIGNING_SECRET",
    ),
    Setting(
        "SLACK_API_BASE_URL",
        "slack_api_base_url",
        "Slack Web API base URL.",
        "https://slack.com/api/",
        _url_with_slash,
        group="slack",
        fix="unset SLACK_API_BASE_URL (default https://slack.com/api/)",
    ),
    Setting(
        "SLACK_APPROVAL_CHANNEL",
        "slack_approval_channel",
        "Channel id where approval requests are posted (an app may override it).",
        group="slack",
        fix="in Slack, open the channel → its name → About: Channel ID (C...) "
        "→ SLACK_APPROVAL_CHANNEL, then /invite the bot there "
        "(or give every app its own with `flask --app app apps add --slack-channel`)",
    ),
    Setting(
        "SLACK_ALERT_CHANNEL",
        "slack_alert_channel",
        "Channel id for failure alerts (a run that exhausted its retries). Empty = "
        "SLACK_APPROVAL_CHANNEL.",
        group="slack",
        fix="in Slack, open the alert channel → its name → About: Channel ID (C...) "
        "→ SLACK_ALERT_CHANNEL, then /invite the bot there (or leave it empty to alert in "
        "SLACK_APPROVAL_CHANNEL)",
    ),
    Setting(
        "SLACK_APPROVER_IDS",
        "slack_approver_ids",
        "Comma-separated Slack user ids allowed to decide. Empty = anyone in the channel "
        "(logged loudly at start-up).",
        "",
        _id_list,
        group="slack",
        fix="in Slack, a person's profile → ⋮ → Copy member ID (U...); "
        "SLACK_APPROVER_IDS=U0123,U0456",
    ),
    Setting(
        "SLACK_TEAM_ID",
        "slack_team_id",
        "Expected Slack workspace (team) id; clicks from another team are refused.",
        group="slack",
        fix="set SLACK_TEAM_ID to the team id `auth.test` reports (T...)",
    ),
    Setting(
        "APPROVAL_TIMEOUT_HOURS",
        "approval_timeout_hours",
        "How long an approval request waits before it expires.",
        "24",
        _positive_float,
        group="slack",
        fix="set APPROVAL_TIMEOUT_HOURS to a number of hours above 0",
    ),
    Setting(
        "APPROVAL_REMINDER_HOURS",
        "approval_reminder_hours",
        "Remind approvers in the thread this many hours before expiry (0 = no reminder).",
        "4",
        float,
        group="slack",
        fix="set APPROVAL_REMINDER_HOURS to a number of hours (0 = none)",
    ),
    # --- Front ---
    Setting(
        "FRONT_API_TOKEN",
        "front_api_token",
        "Front API token (Bearer).",
        secret=True,
        group="front",
        fix=f"{FRONT_DEVELOPERS} → API Tokens → Create API token (Access resources; "
        "the workspace holding your inboxes; Read, Write, Send) → FRONT_API_TOKEN "
        "(see docs/setup-front.md)",
    ),
    Setting(
        "FRONT_API_BASE_URL",
        "front_api_base_url",
        "Front Core API base URL.",
        "https://api2.frontapp.com",
        _url_without_slash,
        group="front",
        fix="unset FRONT_API_BASE_URL (default https://api2.frontapp.com)",
    ),
    Setting(
        "FRONT_WEBHOOK_SECRET",
        "front_webhook_secret",
        "Front application secret; signs `/webhooks/front` deliveries.",
        secret=True,
        group="front",
        fix=f"{FRONT_DEVELOPERS} → Apps → your app → Basic information → "
        "App secret → FRONT_WEBHOOK_SECRET",
    ),
    # --- Anthropic ---
    Setting(
        "FRONT_TIMEOUT_SECONDS",
        "front_timeout_seconds",
        "Timeout of each Front API call; a timed-out step is retried by Inngest.",
        "15",
        _positive_float,
        group="front",
        fix="set FRONT_TIMEOUT_SECONDS to a number of seconds above 0, or unset it",
    ),
    Setting(
        "INTEGRATION_TIMEOUT_SECONDS",
        "integration_timeout_seconds",
        "Timeout of each call to a product app's integration API (refunds are idempotent, so a "
        "timed-out call is retried safely).",
        "10",
        _positive_float,
        group="front",
        fix="set INTEGRATION_TIMEOUT_SECONDS to a number of seconds above 0, or unset it",
    ),
    Setting(
        "ANTHROPIC_API_KEY",
        "anthropic_api_key",
        "Anthropic API key.",
        secret=True,
        group="anthropic",
        fix="Anthropic Console (console.anthropic.com) → Settings → API keys → "
        "Create key → ANTHROPIC_API_KEY",
    ),
    Setting(
        "ANTHROPIC_MODEL",
        "anthropic_model",
        "Claude model id used by the agent.",
        "claude-sonnet-4-6",
        group="anthropic",
        fix="set ANTHROPIC_MODEL to a current model id, e.g. claude-sonnet-4-6",
    ),
    Setting(
        "ANTHROPIC_BASE_URL",
        "anthropic_base_url",
        "Anthropic API base URL (as the SDK reads it); unset = the SDK's default.",
        None,
        _url_without_slash,
        group="anthropic",
        fix="unset ANTHROPIC_BASE_URL (the SDK's default is api.anthropic.com)",
    ),
    Setting(
        "AGENT_MAX_TURNS",
        "agent_max_turns",
        "Most model calls in one agent tool loop.",
        "8",
        _positive_int,
        group="anthropic",
        fix="set AGENT_MAX_TURNS to a whole number above 0",
    ),
    Setting(
        "AGENT_MAX_TOKENS",
        "agent_max_tokens",
        "max_tokens of each model call.",
        "2048",
        _positive_int,
        group="anthropic",
        fix="set AGENT_MAX_TOKENS to a whole number above 0",
    ),
    # --- Inngest ---
    Setting(
        "INNGEST_DEV",
        "inngest_dev",
        "Set (to `1` or the dev server URL) for dev mode; unset = Inngest Cloud mode.",
        group="inngest",
        fix="set INNGEST_DEV=1 for local work with the dev server; unset it in production",
    ),
    Setting(
        "INNGEST_BASE_URL",
        "inngest_base_url",
        "Origin of a self-hosted or dev Inngest server (sets both API and event URLs).",
        None,
        _url_without_slash,
        group="inngest",
        fix="set INNGEST_BASE_URL to the origin of your Inngest server, e.g. http://inngest:8288",
    ),
    Setting(
        "INNGEST_API_BASE_URL",
        "inngest_api_base_url",
        "Inngest REST API origin.",
        None,
        _url_without_slash,
        group="inngest",
        fix="set INNGEST_API_BASE_URL to an http(s) origin or unset it",
    ),
    Setting(
        "INNGEST_EVENT_API_BASE_URL",
        "inngest_event_api_base_url",
        "Inngest Event API origin.",
        None,
        _url_without_slash,
        group="inngest",
        fix="set INNGEST_EVENT_API_BASE_URL to an http(s) origin or unset it",
    ),
    Setting(
        "INNGEST_EVENT_KEY",
        "inngest_event_key",
        "Event key for sending events.",
        secret=True,
        required_in_cloud=True,
        group="inngest",
        fix=f"{INNGEST_KEYS} → Event keys → Create event key → INNGEST_EVENT_KEY "
        "(or INNGEST_DEV=1 for local work)",
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
        fix=f"{INNGEST_KEYS} → Signing keys → INNGEST_SIGNING_KEY "
        "(signkey-prod-...; or INNGEST_DEV=1 for local work)",
    ),
    Setting(
        "INNGEST_SIGNING_KEY_FALLBACK",
        "inngest_signing_key_fallback",
        "Previous signing key, accepted during a key rotation.",
        None,
        _signing_key,
        secret=True,
        group="inngest",
        fix="set INNGEST_SIGNING_KEY_FALLBACK to the previous "
        "signkey-<env>-<hex> during a rotation, or unset it",
    ),
    Setting(
        "INNGEST_SYNC_ON_START",
        "inngest_sync_on_start",
        "Register the functions with Inngest when gunicorn starts (needs `PUBLIC_URL`).",
        "false",
        _bool,
        group="inngest",
        fix="set INNGEST_SYNC_ON_START to true or false",
    ),
    # --- observability (docs/observability.md) ---
    Setting(
        "METRICS_TOKEN",
        "metrics_token",
        "Bearer token Prometheus sends to scrape `GET /metrics`; unset = no `/metrics` (404) and "
        "no metrics are counted.",
        secret=True,
        group="observability",
        fix="set METRICS_TOKEN to a long random string (e.g. `openssl rand -hex 32`) and give "
        "Prometheus the same value as its bearer token for this scrape job",
    ),
    Setting(
        "PROMETHEUS_MULTIPROC_DIR",
        "prometheus_multiproc_dir",
        "Empty directory where each gunicorn worker keeps its metrics (prometheus_client's "
        "multiprocess mode); needed with more than one worker.",
        None,
        _directory,
        group="observability",
    ),
    Setting(
        "LOG_FORMAT",
        "log_format",
        "`text` (one line per event) or `json` (one JSON object per line, with the event's "
        "`key=value` fields as keys).",
        "text",
        _log_format,
        group="observability",
    ),
    Setting(
        "SENTRY_DSN",
        "sentry_dsn",
        "Sentry DSN: unhandled errors are reported (secrets and message bodies scrubbed); unset = "
        "off.",
        secret=True,
        group="observability",
        fix="set SENTRY_DSN to the DSN from Sentry → Project Settings → Client Keys (DSN), or "
        "unset it to turn error reporting off",
    ),
)


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


ENV_EXAMPLE_HEADER = """\
# support-agent settings for local work: copy to .env and fill in what you have.
# Every `flask` command reads .env (Flask's python-dotenv loading; variables already set in the
# shell win), and `make run` writes INNGEST_DEV and PORT into it. Never commit .env.
# An empty value means unset. Commented lines show the default.
# Generated from support/config.py by `make docs`; tests/test_docs.py fails when it drifts.
"""


def env_example() -> str:
    """The text of ``.env.example``: every setting, grouped, with its help and default."""
    out = [ENV_EXAMPLE_HEADER]
    group = ""
    for s in SETTINGS:
        if s.group != group:
            group = s.group
            out.append(f"\n# --- {group} ---\n")
        help_text = s.help.replace("`", "")
        if s.required_in_cloud:
            help_text += " Required in Inngest Cloud mode."
        out.append(f"# {help_text}\n")
        if s.env == "INNGEST_DEV":
            out.append("INNGEST_DEV=1\n")
        elif s.default not in (None, ""):
            out.append(f"# {s.env}={s.default}\n")
        else:
            out.append(f"{s.env}=\n")
    return "".join(out)


if __name__ == "__main__":
    print(markdown_table())
