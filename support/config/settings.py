"""``SETTINGS``: the one declaration of every environment variable (its attribute, default, parser,
documentation and the fix ``flask doctor`` shows). ``Config`` (``support/config/loader.py``) has one
typed field per ``Setting.attr``; the README's table and ``.env.example`` are generated from here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from support.config import parsers as p


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
    parse: Callable[[str], Any] = p.text
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


SETTINGS: tuple[Setting, ...] = (
    # --- general ---
    Setting(
        "DATABASE_URL",
        "database_url",
        "SQLAlchemy URL: `mysql+pymysql://user:pass@host/db` in production; unset = SQLite "
        "file `./var/support-agent.db`.",
        None,
        p.database_url,
        group="data",
        fix="set DATABASE_URL=mysql+pymysql://user:password@host/db "
        "(or leave it unset for the SQLite file ./var/support-agent.db)",
    ),
    Setting(
        "LOG_LEVEL",
        "log_level",
        "Log level (DEBUG, INFO, WARNING, ERROR).",
        "INFO",
        p.log_level,
        fix="set LOG_LEVEL to DEBUG, INFO, WARNING or ERROR",
    ),
    Setting(
        "PUBLIC_URL",
        "public_url",
        "Public origin of this service (for links and `inngest sync`), e.g. "
        "`https://support.example.com`.",
        None,
        p.url_without_slash,
        fix="set PUBLIC_URL to the https origin Slack, Front and Inngest reach this service "
        "at, e.g. https://support.example.com",
    ),
    Setting(
        "PORT",
        "port",
        "Port gunicorn listens on (`gunicorn.conf.py`; the image's default). `make run` uses 3000.",
        "8000",
        p.port,
        fix="set PORT to the port this service listens on (1-65535), or unset it for 8000",
    ),
    Setting(
        "MAX_BODY_BYTES",
        "max_body_bytes",
        "Largest request body accepted on any door; larger ones get 413.",
        "1048576",
        p.positive_int,
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
        p.url_with_slash,
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
        p.id_list,
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
        p.positive_float,
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
        p.url_without_slash,
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
        p.positive_float,
        group="front",
        fix="set FRONT_TIMEOUT_SECONDS to a number of seconds above 0, or unset it",
    ),
    Setting(
        "INTEGRATION_TIMEOUT_SECONDS",
        "integration_timeout_seconds",
        "Timeout of each call to a product app's integration API (refunds are idempotent, so a "
        "timed-out call is retried safely).",
        "10",
        p.positive_float,
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
        p.url_without_slash,
        group="anthropic",
        fix="unset ANTHROPIC_BASE_URL (the SDK's default is api.anthropic.com)",
    ),
    Setting(
        "AGENT_MAX_TURNS",
        "agent_max_turns",
        "Most model calls in one agent tool loop.",
        "8",
        p.positive_int,
        group="anthropic",
        fix="set AGENT_MAX_TURNS to a whole number above 0",
    ),
    Setting(
        "AGENT_MAX_TOKENS",
        "agent_max_tokens",
        "max_tokens of each model call.",
        "2048",
        p.positive_int,
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
        p.url_without_slash,
        group="inngest",
        fix="set INNGEST_BASE_URL to the origin of your Inngest server, e.g. http://inngest:8288",
    ),
    Setting(
        "INNGEST_API_BASE_URL",
        "inngest_api_base_url",
        "Inngest REST API origin.",
        None,
        p.url_without_slash,
        group="inngest",
        fix="set INNGEST_API_BASE_URL to an http(s) origin or unset it",
    ),
    Setting(
        "INNGEST_EVENT_API_BASE_URL",
        "inngest_event_api_base_url",
        "Inngest Event API origin.",
        None,
        p.url_without_slash,
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
        p.signing_key,
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
        p.signing_key,
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
        p.boolean,
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
        p.directory,
        group="observability",
        fix="set PROMETHEUS_MULTIPROC_DIR to an empty directory writable by the service, created "
        "before it starts (in a container a tmpfs, e.g. `--tmpfs /tmp/prometheus`; the image "
        "sets /tmp/prometheus)",
    ),
    Setting(
        "LOG_FORMAT",
        "log_format",
        "`text` (one line per event) or `json` (one JSON object per line, with the event's "
        "`key=value` fields as keys).",
        "text",
        p.log_format,
        group="observability",
        fix="set LOG_FORMAT to text or json (json for a log collector)",
    ),
    Setting(
        "SENTRY_DSN",
        "sentry_dsn",
        "Sentry DSN: unhandled errors are reported (secrets and message bodies scrubbed); unset = "
        "off.",
        None,
        p.sentry_dsn,
        secret=True,
        group="observability",
        fix="set SENTRY_DSN to the DSN from Sentry → Project Settings → Client Keys (DSN), or "
        "unset it to turn error reporting off",
    ),
)
