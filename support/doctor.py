"""``flask --app app doctor``: is this install ready? One line per check, and the fix when it fails.

What is checked, in order (each with the variable or screen to fix it):

* ``config``      every variable parses; in cloud mode the Inngest keys are present. When the
                  configuration does not load at all (``ConfigError``), each problem is one failed
                  check and the other checks still run with the settings that did parse.
* ``database``    ``SELECT 1`` and the Alembic revision equals the code's head.
* ``slack.*``     signing secret set; ``auth.test`` accepts the bot token; the token's workspace
                  equals ``SLACK_TEAM_ID``; an approval channel exists; approvers are restricted.
* ``front.*``     ``GET /me`` accepts the API token; the webhook (app) secret is set.
* ``anthropic``   ``GET /v1/models/{ANTHROPIC_MODEL}``: the key works and the model exists (no
                  tokens are spent).
* ``inngest``     dev mode: the dev server answers ``GET /dev`` (and lists our functions); cloud
                  mode: keys well-formed, ``PUBLIC_URL`` set, a self-hosted server answers. No event
                  is ever sent.
* ``apps``        at least one app is registered; each app's inbox id and integration URL are
                  well-formed.

A missing credential is a failure (the install cannot work without it), not a skip. Secrets are
never printed: details are built from non-secret facts, and ``Report.render`` also masks every
secret value it knows in case an upstream error message echoes one.

This module imports neither Flask nor anything that builds the app; ``anthropic`` is imported only
inside its check (it costs about a second).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.error import URLError
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session

from support import config as config_module
from support.config import SETTINGS, Config, ConfigError
from support.inngest_client import APP_ID

Status = Literal["ok", "warn", "fail"]

TIMEOUT_SECONDS = 5.0
DEV_SERVER_URL = "http://127.0.0.1:8288"
SERVE_PATH = "/api/inngest"

SLACK_APPS = "https://api.slack.com/apps → your app"
FRONT_DEVELOPERS = "Front → Settings → Developers"
INNGEST_KEYS = "Inngest Cloud (app.inngest.com) → pick the environment → the key icon next to it"

FIXES: dict[str, str] = {
    "DATABASE_URL": "set DATABASE_URL=mysql+pymysql://user:password@host/db "
    "(or leave it unset for the SQLite file ./var/support-agent.db)",
    "LOG_LEVEL": "set LOG_LEVEL to DEBUG, INFO, WARNING or ERROR",
    "PUBLIC_URL": "set PUBLIC_URL to the https origin Slack, Front and Inngest reach this service "
    "at, e.g. https://support.example.com",
    "MAX_BODY_BYTES": "set MAX_BODY_BYTES to a whole number of bytes, or unset it",
    "SLACK_BOT_TOKEN": f"{SLACK_APPS} → OAuth & Permissions → Bot User OAuth Token (xoxb-...) "
    "→ SLACK_BOT_TOKEN (install the app to the workspace first; see docs/setup-slack.md)",
    "SLACK_SIGNING_SECRET": f"{SLACK_APPS} → Basic Information → App Credentials → "
    "Signing Secret → SLACK_SIGNING_SECRET",
    "SLACK_API_BASE_URL": "unset SLACK_API_BASE_URL (default https://slack.com/api/)",
    "SLACK_APPROVAL_CHANNEL": "in Slack, open the channel → its name → About: Channel ID (C...) "
    "→ SLACK_APPROVAL_CHANNEL, then /invite the bot there "
    "(or give every app its own with `flask --app app apps add --slack-channel`)",
    "SLACK_APPROVER_IDS": "in Slack, a person's profile → ⋮ → Copy member ID (U...); "
    "SLACK_APPROVER_IDS=U0123,U0456",
    "SLACK_TEAM_ID": "set SLACK_TEAM_ID to the team id `auth.test` reports (T...)",
    "APPROVAL_TIMEOUT_HOURS": "set APPROVAL_TIMEOUT_HOURS to a number of hours above 0",
    "APPROVAL_REMINDER_HOURS": "set APPROVAL_REMINDER_HOURS to a number of hours (0 = none)",
    "FRONT_API_TOKEN": f"{FRONT_DEVELOPERS} → API Tokens → Create API token (Access resources; "
    "the workspace holding your inboxes; Read, Write, Send) → FRONT_API_TOKEN "
    "(see docs/setup-front.md)",
    "FRONT_API_BASE_URL": "unset FRONT_API_BASE_URL (default https://api2.frontapp.com)",
    "FRONT_WEBHOOK_SECRET": f"{FRONT_DEVELOPERS} → Apps → your app → Basic information → "
    "App secret → FRONT_WEBHOOK_SECRET",
    "ANTHROPIC_API_KEY": "Anthropic Console (console.anthropic.com) → Settings → API keys → "
    "Create key → ANTHROPIC_API_KEY",
    "ANTHROPIC_MODEL": "set ANTHROPIC_MODEL to a current model id, e.g. claude-sonnet-4-6",
    "ANTHROPIC_BASE_URL": "unset ANTHROPIC_BASE_URL (the SDK's default is api.anthropic.com)",
    "AGENT_MAX_TURNS": "set AGENT_MAX_TURNS to a whole number above 0",
    "AGENT_MAX_TOKENS": "set AGENT_MAX_TOKENS to a whole number above 0",
    "INNGEST_DEV": "set INNGEST_DEV=1 for local work with the dev server; unset it in production",
    "INNGEST_BASE_URL": "set INNGEST_BASE_URL to the origin of your Inngest server, "
    "e.g. http://inngest:8288",
    "INNGEST_API_BASE_URL": "set INNGEST_API_BASE_URL to an http(s) origin or unset it",
    "INNGEST_EVENT_API_BASE_URL": "set INNGEST_EVENT_API_BASE_URL to an http(s) origin or unset it",
    "INNGEST_EVENT_KEY": f"{INNGEST_KEYS} → Event keys → Create event key → INNGEST_EVENT_KEY "
    "(or INNGEST_DEV=1 for local work)",
    "INNGEST_SIGNING_KEY": f"{INNGEST_KEYS} → Signing keys → INNGEST_SIGNING_KEY "
    "(signkey-prod-...; or INNGEST_DEV=1 for local work)",
    "INNGEST_SIGNING_KEY_FALLBACK": "set INNGEST_SIGNING_KEY_FALLBACK to the previous "
    "signkey-<env>-<hex> during a rotation, or unset it",
    "INNGEST_SYNC_ON_START": "set INNGEST_SYNC_ON_START to true or false",
}


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


def mask(output: str, secrets: Iterable[str]) -> str:
    """``output`` with every secret value (4+ characters) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        output = output.replace(secret, "***")
    return output


# --- configuration ----------------------------------------------------------------------------


def lenient_load(environ: Mapping[str, str]) -> tuple[Config, list[str]]:
    """The settings that parse (defaults for the others) and the problems ``load`` would raise.

    Used when ``config.load`` failed, so the other checks can still run with what is usable.
    """
    try:
        return config_module.load(environ), []
    except ConfigError as exc:
        problems = list(exc.problems)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None or (raw.strip() == "" and setting.default is None):
            raw = setting.default
        if raw is None:
            values[setting.attr] = None
            continue
        try:
            values[setting.attr] = setting.parse(raw)
        except ValueError:
            values[setting.attr] = (
                setting.parse(setting.default) if setting.default is not None else None
            )
    if values.get("database_url") is None and environ.get("DATABASE_URL", "").strip() == "":
        values["database_url"] = config_module._default_database_url()
    elif values.get("database_url") is None:
        values["database_url"] = ""
    return Config(**values), problems


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


# --- database ---------------------------------------------------------------------------------


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


def _error_text(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {str(inner).splitlines()[0] if str(inner) else ''}".strip()


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
                f"cannot use {shown}: {_error_text(exc)}",
                "check DATABASE_URL (host, port, user, password, database name) and that the "
                "server is running and reachable from here",
            )
        ], None
    finally:
        if engine is not None:
            engine.dispose()


# --- Slack ------------------------------------------------------------------------------------

SLACK_TOKEN_ERRORS = ("invalid_auth", "not_authed", "token_revoked", "account_inactive")


def slack_checks(config: Config, apps: list[AppRow] | None, timeout: float) -> list[Check]:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    checks: list[Check] = []
    if config.slack_signing_secret:
        checks.append(Check("ok", "slack.signing_secret", "set"))
    else:
        checks.append(
            Check(
                "fail",
                "slack.signing_secret",
                "SLACK_SIGNING_SECRET unset: /slack/events answers 503",
                FIXES["SLACK_SIGNING_SECRET"],
            )
        )

    team_id: str | None = None
    token = config.slack_bot_token
    if not token:
        checks.append(
            Check("fail", "slack.auth", "SLACK_BOT_TOKEN unset", FIXES["SLACK_BOT_TOKEN"])
        )
    else:
        client = WebClient(token=token, base_url=config.slack_api_base_url, timeout=int(timeout))
        try:
            answer = client.auth_test()
        except SlackApiError as exc:
            error = str(exc.response.get("error") if exc.response is not None else exc)
            status = exc.response.status_code if exc.response is not None else "?"
            fix = FIXES["SLACK_BOT_TOKEN"]
            if error not in SLACK_TOKEN_ERRORS:
                fix = "see https://api.slack.com/methods/auth.test for this error; " + fix
            checks.append(
                Check(
                    "fail",
                    "slack.auth",
                    f"auth.test refused the token: {error} (HTTP {status})",
                    fix,
                )
            )
        except (SlackClientError, URLError, OSError, ValueError) as exc:
            checks.append(
                Check(
                    "fail",
                    "slack.auth",
                    f"cannot reach {config.slack_api_base_url}: {_error_text(exc)}",
                    "check outbound network to Slack, and SLACK_API_BASE_URL (unset = default)",
                )
            )
        else:
            team_id = str(answer.get("team_id") or "") or None
            who = f"bot @{answer.get('user')} ({answer.get('user_id')})"
            checks.append(
                Check(
                    "ok", "slack.auth", f"auth.test ok: {who} in {answer.get('team')} ({team_id})"
                )
            )
            if not token.startswith("xoxb-"):
                checks.append(
                    Check(
                        "warn",
                        "slack.auth",
                        "SLACK_BOT_TOKEN is not a bot token (xoxb-...)",
                        FIXES["SLACK_BOT_TOKEN"],
                    )
                )

    if config.slack_team_id and team_id and config.slack_team_id != team_id:
        checks.append(
            Check(
                "fail",
                "slack.team",
                f"SLACK_TEAM_ID={config.slack_team_id} but the bot token belongs to {team_id}: "
                "every click would be refused",
                f"set SLACK_TEAM_ID={team_id}, or use the bot token of workspace "
                f"{config.slack_team_id}",
            )
        )
    elif config.slack_team_id:
        checks.append(Check("ok", "slack.team", f"SLACK_TEAM_ID={config.slack_team_id}"))
    else:
        checks.append(
            Check(
                "warn",
                "slack.team",
                "SLACK_TEAM_ID unset: clicks are not checked against a workspace",
                f"set SLACK_TEAM_ID={team_id}" if team_id else FIXES["SLACK_TEAM_ID"],
            )
        )

    checks.append(_channel_check(config, apps))
    if config.slack_approver_ids:
        checks.append(
            Check("ok", "slack.approvers", f"{len(config.slack_approver_ids)} approver(s)")
        )
    else:
        checks.append(
            Check(
                "warn",
                "slack.approvers",
                "SLACK_APPROVER_IDS empty: ANYONE in the approval channel can approve refunds",
                FIXES["SLACK_APPROVER_IDS"],
            )
        )
    return checks


def _channel_check(config: Config, apps: list[AppRow] | None) -> Check:
    channel = config.slack_approval_channel
    if channel:
        if not re.fullmatch(r"[CGD][A-Z0-9]{2,}", channel):
            return Check(
                "warn",
                "slack.channel",
                f"SLACK_APPROVAL_CHANNEL={channel} does not look like a channel id (C...)",
                FIXES["SLACK_APPROVAL_CHANNEL"],
            )
        return Check(
            "ok", "slack.channel", f"{channel} (the bot must be a member: /invite it there)"
        )
    without = [a.slug for a in apps or [] if not a.slack_channel]
    if apps and not without:
        return Check("ok", "slack.channel", "unset, but every app has its own channel")
    return Check(
        "fail",
        "slack.channel",
        "SLACK_APPROVAL_CHANNEL unset"
        + (f" and apps without a channel: {', '.join(without)}" if without else "")
        + ": approval requests cannot be posted",
        FIXES["SLACK_APPROVAL_CHANNEL"],
    )


# --- Front ------------------------------------------------------------------------------------


def front_checks(config: Config, timeout: float) -> list[Check]:
    checks: list[Check] = []
    token = config.front_api_token
    if not token:
        checks.append(
            Check("fail", "front.token", "FRONT_API_TOKEN unset", FIXES["FRONT_API_TOKEN"])
        )
    else:
        url = f"{config.front_api_base_url}/me"
        try:
            response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
        except httpx.HTTPError as exc:
            checks.append(
                Check(
                    "fail",
                    "front.token",
                    f"cannot reach {config.front_api_base_url}: {_error_text(exc)}",
                    "check outbound network to Front, and FRONT_API_BASE_URL (unset = default)",
                )
            )
        else:
            if response.status_code == 200:
                name = _json_field(response, "name")
                checks.append(
                    Check("ok", "front.token", "GET /me ok" + (f": company {name}" if name else ""))
                )
            elif response.status_code in (401, 403):
                checks.append(
                    Check(
                        "fail",
                        "front.token",
                        f"GET /me refused the token (HTTP {response.status_code})",
                        FIXES["FRONT_API_TOKEN"],
                    )
                )
            else:
                checks.append(
                    Check(
                        "fail",
                        "front.token",
                        f"GET /me answered HTTP {response.status_code}",
                        "check FRONT_API_BASE_URL and Front's status page (status.front.com)",
                    )
                )
    if config.front_webhook_secret:
        checks.append(Check("ok", "front.webhook_secret", "set"))
    else:
        checks.append(
            Check(
                "fail",
                "front.webhook_secret",
                "FRONT_WEBHOOK_SECRET unset: /webhooks/front answers 503",
                FIXES["FRONT_WEBHOOK_SECRET"],
            )
        )
    return checks


def _json_field(response: httpx.Response, key: str) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get(key) if isinstance(body, dict) else None
    return str(value) if value else None


# --- Anthropic --------------------------------------------------------------------------------


def anthropic_checks(config: Config, timeout: float) -> list[Check]:
    if not config.anthropic_api_key:
        return [Check("fail", "anthropic", "ANTHROPIC_API_KEY unset", FIXES["ANTHROPIC_API_KEY"])]
    import anthropic

    model = config.anthropic_model
    client = anthropic.Anthropic(
        api_key=config.anthropic_api_key,
        base_url=config.anthropic_base_url,
        max_retries=0,
        timeout=timeout,
    )
    try:
        found = client.models.retrieve(model)
    except anthropic.AuthenticationError:
        return [
            Check(
                "fail",
                "anthropic",
                "the API refused the key (HTTP 401)",
                FIXES["ANTHROPIC_API_KEY"],
            )
        ]
    except anthropic.NotFoundError:
        return [
            Check(
                "fail",
                "anthropic",
                f"the key works but model {model} does not exist (retired or misspelt)",
                FIXES["ANTHROPIC_MODEL"],
            )
        ]
    except anthropic.RateLimitError:
        return [Check("warn", "anthropic", "key accepted but rate limited (HTTP 429) right now")]
    except anthropic.APIStatusError as exc:
        return [
            Check(
                "fail",
                "anthropic",
                f"models API answered HTTP {exc.status_code}",
                "check the key's permissions in the Anthropic Console, and ANTHROPIC_BASE_URL",
            )
        ]
    except anthropic.APIConnectionError as exc:
        return [
            Check(
                "fail",
                "anthropic",
                f"cannot reach the Anthropic API: {_error_text(exc)}",
                "check outbound network to api.anthropic.com, and ANTHROPIC_BASE_URL",
            )
        ]
    finally:
        client.close()
    return [Check("ok", "anthropic", f"key accepted; model {found.id} available")]


# --- Inngest ----------------------------------------------------------------------------------


def inngest_checks(config: Config, timeout: float) -> list[Check]:
    if config.is_dev:
        return [_dev_server_check(config, timeout)]
    checks: list[Check] = []
    key = config.inngest_signing_key
    if key:
        env = key.split("-")[1] if key.count("-") >= 2 else "?"
        checks.append(Check("ok", "inngest.signing_key", f"well-formed (environment {env!r})"))
        fallback = config.inngest_signing_key_fallback
        if fallback and fallback == key:
            checks.append(
                Check(
                    "warn",
                    "inngest.signing_key",
                    "INNGEST_SIGNING_KEY_FALLBACK equals INNGEST_SIGNING_KEY",
                    "set the fallback to the previous key during a rotation, or unset it",
                )
            )
        elif fallback:
            checks.append(
                Check(
                    "ok",
                    "inngest.signing_key",
                    "fallback key set (rotation in progress: unset it once Inngest uses the new key)",
                )
            )
    event_key = config.inngest_event_key or ""
    if event_key and not re.fullmatch(r"[A-Za-z0-9_\-]{16,}", event_key):
        checks.append(
            Check(
                "warn",
                "inngest.event_key",
                "INNGEST_EVENT_KEY does not look like an Inngest event key",
                FIXES["INNGEST_EVENT_KEY"],
            )
        )
    elif event_key:
        checks.append(
            Check(
                "ok",
                "inngest.event_key",
                "well-formed (not sent to Inngest: doctor sends no events)",
            )
        )
    checks.append(_public_url_check(config))
    if config.inngest_api_origin:
        checks.append(_server_check(config.inngest_api_origin, timeout))
    else:
        checks.append(
            Check(
                "ok",
                "inngest.server",
                "Inngest Cloud; prove the signing key with `flask --app app inngest sync`",
            )
        )
    return checks


def _public_url_check(config: Config) -> Check:
    url = config.public_url
    if not url:
        return Check(
            "fail",
            "public_url",
            "PUBLIC_URL unset: Inngest cannot be told where /api/inngest is",
            FIXES["PUBLIC_URL"],
        )
    host = urlsplit(url).hostname or ""
    if not url.startswith("https://") and host not in ("localhost", "127.0.0.1"):
        return Check(
            "warn",
            "public_url",
            f"{url} is not https: Slack requires https request URLs",
            FIXES["PUBLIC_URL"],
        )
    return Check("ok", "public_url", f"{url} (serve path {url}{SERVE_PATH})")


def _get(url: str, timeout: float) -> httpx.Response:
    return httpx.get(url, timeout=timeout)


def _dev_server_check(config: Config, timeout: float) -> Check:
    origin = config.inngest_api_origin or DEV_SERVER_URL
    fix = (
        "start the dev server: npx inngest-cli@latest dev -u http://127.0.0.1:3000/api/inngest "
        "(`make run` tries this), or set INNGEST_DEV / INNGEST_BASE_URL to its URL"
    )
    try:
        response = _get(f"{origin}/dev", timeout)
    except httpx.HTTPError as exc:
        return Check(
            "fail", "inngest", f"dev server at {origin} does not answer: {_error_text(exc)}", fix
        )
    if response.status_code != 200:
        return Check("fail", "inngest", f"{origin}/dev answered HTTP {response.status_code}", fix)
    try:
        body = response.json()
    except ValueError:
        body = None
    functions = body.get("functions") if isinstance(body, dict) else None
    if not isinstance(functions, list):
        return Check("ok", "inngest", f"dev server answers at {origin}")
    prefix = f"{APP_ID}-"
    ours = [
        f
        for f in functions
        if isinstance(f, dict) and str(f.get("id") or f.get("slug") or "").startswith(prefix)
    ]
    if not ours:
        return Check(
            "warn",
            "inngest",
            f"dev server answers at {origin} but lists none of our functions",
            "run `flask --app app inngest sync` (or start the dev server with "
            "-u http://127.0.0.1:3000/api/inngest so it finds them)",
        )
    handlers = [f for f in ours if str(f.get("id") or f.get("slug") or "").endswith("-failure")]
    return Check(
        "ok",
        "inngest",
        f"dev server answers at {origin}; {len(ours) - len(handlers)} of our functions registered"
        f" (+{len(handlers)} failure handlers)",
    )


def _server_check(origin: str, timeout: float) -> Check:
    try:
        response = _get(f"{origin}/health", timeout)
    except httpx.HTTPError as exc:
        return Check(
            "fail",
            "inngest.server",
            f"self-hosted Inngest at {origin} does not answer: {_error_text(exc)}",
            "check INNGEST_BASE_URL (or INNGEST_API_BASE_URL) and that the server runs",
        )
    return Check(
        "ok" if response.status_code < 500 else "fail",
        "inngest.server",
        f"self-hosted Inngest at {origin} answers (HTTP {response.status_code})",
        None if response.status_code < 500 else "check the Inngest server's logs",
    )


# --- apps -------------------------------------------------------------------------------------

INBOX_ID = re.compile(r"^inb_[A-Za-z0-9]+$")


def app_checks(apps: list[AppRow] | None) -> list[Check]:
    if apps is None:
        return [Check("warn", "apps", "skipped: the database is not ready (see above)")]
    add = (
        "flask --app app apps add --slug acme --name Acme --front-inbox inb_... "
        "--integration-url https://acme.example.com --integration-secret ... "
        "(inbox ids: docs/setup-front.md)"
    )
    if not apps:
        return [
            Check(
                "fail",
                "apps",
                "no app registered: every Front webhook is ignored (unknown inbox)",
                add,
            )
        ]
    checks = [Check("ok", "apps", f"{len(apps)} registered: {', '.join(a.slug for a in apps)}")]
    for a in apps:
        name = f"apps.{a.slug}"
        parts = urlsplit(a.integration_base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            checks.append(
                Check(
                    "fail",
                    name,
                    f"integration URL {a.integration_base_url!r} is not an http(s) URL",
                    "register the app again with a correct --integration-url "
                    "(apps add refuses a duplicate slug: see docs/runbook.md)",
                )
            )
        elif parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
            checks.append(
                Check(
                    "warn",
                    name,
                    f"integration URL {a.integration_base_url} is plain http: signed calls and "
                    "customer data travel unencrypted",
                    "serve the app's integration API over https",
                )
            )
        if not INBOX_ID.match(a.front_inbox_id):
            checks.append(
                Check(
                    "fail",
                    name,
                    f"Front inbox id {a.front_inbox_id!r} is not like inb_...",
                    "find the inbox id with GET /inboxes (docs/setup-front.md)",
                )
            )
    return checks


# --- all --------------------------------------------------------------------------------------

Runner = Callable[[], list[Check]]


def run(
    config: Config | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Report:
    """Every check. ``config`` None: load from ``environ`` (default ``os.environ``) leniently."""
    env = os.environ if environ is None else environ
    if config is None:
        config, problems = lenient_load(env)
        secrets = secrets_of(config, env)
    else:
        problems = []
        secrets = secrets_of(config)
    checks = config_checks(config, problems)
    db_checks, apps = database_checks(config)
    checks += db_checks
    secrets += [a.integration_secret for a in apps or []]
    checks += slack_checks(config, apps, timeout)
    checks += front_checks(config, timeout)
    checks += anthropic_checks(config, timeout)
    checks += inngest_checks(config, timeout)
    checks += app_checks(apps)
    return Report(checks, secrets)
