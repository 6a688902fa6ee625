"""``flask --app app doctor`` against the loopback fakes: the all-ok install and each failure."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import create_app, is_doctor_command
from support import doctor
from support.config import load
from support.db import migrate
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import FrontFake
from tests.fakes.inngest_double import InngestDouble
from tests.fakes.slack import SlackFake
from tests.world import (
    ANTHROPIC_KEY,
    FRONT_SECRET,
    FRONT_TOKEN,
    INTEGRATION_SECRET,
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAM_ID,
    live_app,
    settings,
)

ROOT = Path(__file__).resolve().parents[1]
SIGNING_KEY = "signkey-prod-" + "ab12" * 16
EVENT_KEY = "evtkey" + "Z9" * 20
METRICS_TOKEN = "metrics-" + "5f" * 16
SENTRY_DSN = "https://0123abcd4567ef890123abcd4567ef89@o12.ingest.sentry.invalid/4242"
SECRETS = (
    METRICS_TOKEN,
    SENTRY_DSN,
    SLACK_TOKEN,
    SLACK_SECRET,
    FRONT_TOKEN,
    FRONT_SECRET,
    ANTHROPIC_KEY,
    INTEGRATION_SECRET,
    SIGNING_KEY,
    "ab12" * 16,
    EVENT_KEY,
)


class Fakes:
    def __init__(self, slack: SlackFake, front: FrontFake, anthropic: AnthropicFake, inngest: Any):
        self.slack, self.front, self.anthropic, self.inngest = slack, front, anthropic, inngest

    def settings(self, database_url: str, **overrides: str) -> dict[str, str]:
        env = settings(
            database_url,
            SLACK_API_BASE_URL=self.slack.url + "/api/",
            FRONT_API_BASE_URL=self.front.url,
            ANTHROPIC_BASE_URL=self.anthropic.url,
            INNGEST_BASE_URL=self.inngest.url,
        )
        env.update(overrides)
        return {k: v for k, v in env.items() if v is not None}


@pytest.fixture
def fakes(inngest: Any) -> Iterator[Fakes]:
    with (
        SlackFake(token=SLACK_TOKEN, team_id=TEAM_ID) as slack,
        FrontFake(token=FRONT_TOKEN, company="Acme Support") as front,
        AnthropicFake(api_key=ANTHROPIC_KEY) as anthropic,
    ):
        yield Fakes(slack, front, anthropic, inngest)


def add_app(settings: dict[str, str], slug: str = "", url: str = "https://acme.example") -> str:
    """Register an app; the slug is unique because MariaDB's test database may be shared."""
    slug = slug or f"acme-{uuid.uuid4().hex[:8]}"
    runner = create_app(settings).test_cli_runner()
    result = runner.invoke(
        args=[
            "apps",
            "add",
            "--slug",
            slug,
            "--name",
            slug.title(),
            "--front-inbox",
            f"inb_{slug.replace('-', '')}",
            "--integration-url",
            url,
            "--integration-secret",
            INTEGRATION_SECRET,
        ]
    )
    assert result.exit_code == 0, result.output
    return slug


def fresh_sqlite(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    """A migrated database of this test alone (the report depends on which apps exist; MariaDB's
    test database may be shared with other runs). Both backends: test_database_on_both_backends."""
    return fresh_sqlite(tmp_path)


def test_database_on_both_backends(database_url: str) -> None:
    config = load({"INNGEST_DEV": "1", "DATABASE_URL": database_url})
    checks, apps = doctor.database_checks(config)
    assert [(c.status, c.name) for c in checks] == [("ok", "database"), ("ok", "database.schema")]
    assert apps is not None


def doctor_cli(settings: dict[str, str]) -> tuple[int, str]:
    result = create_app(settings).test_cli_runner().invoke(args=["doctor"])
    for secret in SECRETS:
        assert secret not in result.output, "doctor printed a secret"
    return result.exit_code, result.output


def doctor_with_an_app(fakes: Fakes, database_url: str, **overrides: str) -> tuple[int, str]:
    """``flask doctor`` with one product app registered, on the fakes' settings + ``overrides``."""
    settings = fakes.settings(database_url, **overrides)
    add_app(settings)
    return doctor_cli(settings)


def lines(output: str, status: str, name: str) -> list[str]:
    """The report lines with this status and check name, each joined with its fix line."""
    rows = output.splitlines()
    found = []
    for i, row in enumerate(rows):
        parts = row.split()
        if len(parts) >= 2 and parts[0] == status and parts[1] == name:
            fix = (
                rows[i + 1].strip()
                if i + 1 < len(rows) and rows[i + 1].strip().startswith("fix:")
                else ""
            )
            found.append(f"{row}\n{fix}")
    return found


def only(output: str, status: str, name: str) -> str:
    found = lines(output, status, name)
    assert len(found) == 1, f"expected one `{status} {name}` line in:\n{output}"
    return found[0]


def statuses(output: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for row in output.splitlines():
        parts = row.split()
        if len(parts) >= 2 and parts[0] in ("ok", "warn", "fail"):
            out.setdefault(parts[0], set()).add(parts[1])
    return out


def test_a_complete_install_is_all_ok(
    fakes: Fakes, sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings = fakes.settings(sqlite_db, METRICS_TOKEN=METRICS_TOKEN)
    slug = add_app(settings)
    with live_app(settings) as server:
        fakes.inngest.sync(server.url + "/api/inngest")
    code, output = doctor_cli(settings)
    assert code == 0, output
    assert set(statuses(output)) == {"ok"}, output
    assert "bot @supportbot" in only(output, "ok", "slack.auth")
    assert "company Acme Support" in only(output, "ok", "front.token")
    assert "model claude-sonnet-4-6 available" in only(output, "ok", "anthropic")
    assert "8 of our functions registered" in only(output, "ok", "inngest")
    assert slug in only(output, "ok", "apps")
    assert output.rstrip().endswith("0 failed, 0 warnings, " + f"{len(output.splitlines()) - 1} ok")
    # doctor really called the services
    assert [r.path for r in fakes.slack.calls("auth.test")] == ["/api/auth.test"]
    assert fakes.front.calls("GET /me") and fakes.anthropic.calls("GET /v1/models/*")
    assert not fakes.anthropic.calls("POST /v1/messages"), "doctor must spend no tokens"
    assert not fakes.inngest.events, "doctor must send no events"


def test_bad_slack_token_fails_with_where_to_find_the_token(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_with_an_app(fakes, sqlite_db, SLACK_BOT_TOKEN="xoxb-revoked-token-123")
    assert code == 1
    line = only(output, "fail", "slack.auth")
    assert "invalid_auth" in line and "OAuth & Permissions" in line and "SLACK_BOT_TOKEN" in line
    assert "xoxb-revoked-token-123" not in output


def test_token_of_another_workspace_fails_the_team_check(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_with_an_app(fakes, sqlite_db, SLACK_TEAM_ID="T0OTHER")
    assert code == 1
    line = only(output, "fail", "slack.team")
    assert "T0OTHER" in line and f"set SLACK_TEAM_ID={TEAM_ID}" in line


def test_slack_unreachable(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_with_an_app(
        fakes, sqlite_db, SLACK_API_BASE_URL="http://127.0.0.1:9/api/"
    )
    assert code == 1 and "cannot reach" in only(output, "fail", "slack.auth")


def test_front_401_fails_with_the_api_tokens_screen(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_with_an_app(fakes, sqlite_db, FRONT_API_TOKEN="front-wrong-token")
    assert code == 1
    line = only(output, "fail", "front.token")
    assert "HTTP 401" in line and "Settings → Developers → API Tokens" in line
    assert "front-wrong-token" not in output
    assert statuses(output)["fail"] == {"front.token"}


def test_anthropic_bad_key_and_retired_model(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_with_an_app(fakes, sqlite_db, ANTHROPIC_API_KEY="sk-ant-wrong")
    assert code == 1 and "HTTP 401" in only(output, "fail", "anthropic")
    assert "sk-ant-wrong" not in output

    settings = fakes.settings(sqlite_db, ANTHROPIC_MODEL="claude-sonnet-3-0")
    code, output = doctor_cli(settings)
    line = only(output, "fail", "anthropic")
    assert code == 1 and "claude-sonnet-3-0 does not exist" in line and "ANTHROPIC_MODEL" in line


def test_database_unreachable(fakes: Fakes) -> None:
    settings = fakes.settings(
        "sqlite://", DATABASE_URL="mysql+pymysql://support:hunter2secret@127.0.0.1:9/support"
    )
    code, output = doctor_cli(settings)
    assert code == 1
    line = only(output, "fail", "database")
    assert "127.0.0.1:9" in line and "DATABASE_URL" in line
    assert "hunter2secret" not in output
    assert "skipped" in only(output, "warn", "apps")


def test_database_not_migrated(fakes: Fakes, tmp_path: Path) -> None:
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    sa.create_engine(url).connect().close()  # the file exists, no tables
    code, output = doctor_cli(fakes.settings(url))
    assert code == 1
    assert "flask --app app db upgrade" in only(output, "fail", "database.schema")
    only(output, "ok", "database")


def test_missing_sqlite_file_is_not_created(fakes: Fakes, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'none.db'}"
    code, output = doctor_cli(fakes.settings(url))
    assert code == 1 and "does not exist" in only(output, "fail", "database")
    assert not (tmp_path / "var").exists()


def test_missing_credentials_each_fail_with_their_variable(fakes: Fakes, tmp_path: Path) -> None:
    settings = fakes.settings(fresh_sqlite(tmp_path))
    for name in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APPROVAL_CHANNEL",
        "SLACK_APPROVER_IDS",
        "SLACK_TEAM_ID",
        "FRONT_API_TOKEN",
        "FRONT_WEBHOOK_SECRET",
        "ANTHROPIC_API_KEY",
    ):
        settings.pop(name)
    code, output = doctor_cli(settings)
    assert code == 1
    expected = {
        ("fail", "slack.auth"): "OAuth & Permissions",
        ("fail", "slack.signing_secret"): "Signing Secret",
        ("fail", "slack.channel"): "SLACK_APPROVAL_CHANNEL",
        ("warn", "slack.approvers"): "SLACK_APPROVER_IDS",
        ("warn", "slack.team"): "SLACK_TEAM_ID",
        ("fail", "front.token"): "FRONT_API_TOKEN",
        ("fail", "front.webhook_secret"): "App secret",
        ("fail", "anthropic"): "ANTHROPIC_API_KEY",
        ("fail", "apps"): "flask --app app apps add",
    }
    for (status, name), hint in expected.items():
        assert hint in only(output, status, name)
    assert not fakes.slack.requests and not fakes.front.requests and not fakes.anthropic.requests


def test_inngest_dev_server_down(fakes: Fakes, sqlite_db: str) -> None:
    # PORT=3000 as `make run` sets it; the hint names the port this service listens on.
    settings = fakes.settings(sqlite_db, INNGEST_BASE_URL="http://127.0.0.1:9", PORT="3000")
    add_app(settings)
    code, output = doctor_cli(settings)
    assert code == 1
    assert "npx inngest-cli@latest dev -u http://127.0.0.1:3000/api/inngest" in only(
        output, "fail", "inngest"
    )
    settings.pop("PORT")  # unset: gunicorn's (and the image's) 8000
    code, output = doctor_cli(settings)
    line = only(output, "fail", "inngest")
    assert "-u http://127.0.0.1:8000/api/inngest" in line and "var/inngest-dev.log" in line


def test_inngest_dev_server_without_our_functions_warns(fakes: Fakes, sqlite_db: str) -> None:
    settings = fakes.settings(sqlite_db)
    add_app(settings)
    code, output = doctor_cli(settings)
    assert code == 0
    assert "flask --app app inngest sync" in only(output, "warn", "inngest")


def test_app_with_a_malformed_integration_url(fakes: Fakes, sqlite_db: str) -> None:
    import sqlalchemy as sa

    settings = fakes.settings(sqlite_db)
    broken = add_app(settings)
    plain = add_app(settings, url="http://plain.example.com")
    engine = sa.create_engine(sqlite_db)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE apps SET integration_base_url='acme.example' WHERE slug=:slug"),
            {"slug": broken},
        )
    engine.dispose()
    code, output = doctor_cli(settings)
    assert code == 1
    assert "not an http(s) URL" in only(output, "fail", f"apps.{broken}")
    assert "plain http" in only(output, "warn", f"apps.{plain}")


def test_cloud_mode_checks_keys_public_url_and_self_hosted_server(
    fakes: Fakes, sqlite_db: str
) -> None:
    settings = fakes.settings(
        sqlite_db, INNGEST_SIGNING_KEY=SIGNING_KEY, INNGEST_EVENT_KEY=EVENT_KEY
    )
    settings.pop("INNGEST_DEV")
    add_app(settings)
    code, output = doctor_cli(settings)
    assert code == 1
    assert "environment 'prod'" in only(output, "ok", "inngest.signing_key")
    only(output, "ok", "inngest.event_key")
    assert "answers (HTTP 200)" in only(output, "ok", "inngest.server")
    assert "PUBLIC_URL" in only(output, "fail", "public_url")

    settings["PUBLIC_URL"] = "https://support.example.com"
    settings["INNGEST_SIGNING_KEY_FALLBACK"] = "signkey-prod-" + "cd34" * 16
    code, output = doctor_cli(settings)
    assert code == 0, output
    assert "rotation in progress" in output
    assert "cd34" * 16 not in output


def test_invalid_configuration_is_reported_check_by_check() -> None:
    environ = {
        "INNGEST_SIGNING_KEY": "not-a-signing-key-secretvalue",
        "LOG_LEVEL": "LOUD",
        "DATABASE_URL": "sqlite:////nonexistent/dir/x.db",
    }
    report = doctor.run(environ=environ, timeout=1)
    output = report.render()
    assert report.exit_code == 1
    config_lines = lines(output, "fail", "config")
    assert any("INNGEST_SIGNING_KEY" in x and "Signing keys" in x for x in config_lines)
    assert any("INNGEST_EVENT_KEY" in x and "Event keys" in x for x in config_lines)
    assert any("LOG_LEVEL" in x for x in config_lines)
    assert "not-a-signing-key-secretvalue" not in output
    # the rest still runs with what parsed
    assert "SLACK_BOT_TOKEN unset" in only(output, "fail", "slack.auth")
    only(output, "fail", "public_url")


def run_flask(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full = {
        k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "SLACK_", "FRONT_"))
    }
    full.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        env=full,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_flask_doctor_runs_when_the_app_cannot_be_built(tmp_path: Path) -> None:
    """Cloud mode without keys: create_app raises ConfigError, doctor still explains it."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "SLACK_BOT_TOKEN": "xoxb-subprocess-secret",
    }
    result = run_flask(["doctor"], env, tmp_path)
    assert result.returncode == 1, result.stderr
    assert "INNGEST_SIGNING_KEY is required" in result.stdout
    assert "INNGEST_EVENT_KEY is required" in result.stdout
    assert "fix: Inngest Cloud" in result.stdout
    assert "xoxb-subprocess-secret" not in result.stdout + result.stderr
    assert not (tmp_path / "x.db").exists()

    served = run_flask(["routes"], env, tmp_path)
    assert served.returncode != 0
    assert "INNGEST_SIGNING_KEY is required" in served.stderr


def test_importing_the_app_still_fails_loudly_on_a_bad_config(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNGEST_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", "import app"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "invalid configuration" in result.stderr and "INNGEST_SIGNING_KEY" in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/srv/.venv/bin/flask", "--app", "app", "doctor"], True),
        (["/usr/lib/python3/site-packages/flask/__main__.py", "--app", "app", "doctor"], True),
        (["flask", "doctor"], True),
        (["flask", "--app", "app", "db", "upgrade"], False),
        (["/srv/.venv/bin/gunicorn", "app:app", "--name", "doctor"], False),
        (["flask"], False),
    ],
)
def test_is_doctor_command(argv: list[str], expected: bool) -> None:
    assert is_doctor_command(argv) is expected


def test_cloud_mode_without_inngest_keys_is_never_ok() -> None:
    report = doctor.run(environ={"DATABASE_URL": "sqlite:////nonexistent/x.db"}, timeout=1)
    output = report.render()
    line = only(output, "fail", "inngest.server")
    assert "INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY unset" in line and "Signing keys" in line
    assert not lines(output, "ok", "inngest.server")

    # a self-hosted server that answers does not make it ok either
    with InngestDouble() as double:
        report = doctor.run(
            environ={"DATABASE_URL": "sqlite:////nonexistent/x.db", "INNGEST_BASE_URL": double.url},
            timeout=2,
        )
    line = only(report.render(), "fail", "inngest.server")
    assert f"cloud mode ({double.url})" in line and "INNGEST_EVENT_KEY unset" in line


def test_malformed_tokens_are_not_well_formed(fakes: Fakes, sqlite_db: str) -> None:
    settings = fakes.settings(
        sqlite_db, SLACK_BOT_TOKEN="foo", INNGEST_SIGNING_KEY="signkey-prod-abcdef"
    )
    settings.pop("INNGEST_DEV")
    settings["INNGEST_EVENT_KEY"] = EVENT_KEY
    report = doctor.run(environ=settings, timeout=2)  # create_app refuses this config
    output = report.render()
    assert report.exit_code == 1
    line = only(output, "fail", "slack.auth")
    assert "malformed" in line and "xoxb-" in line and "OAuth & Permissions" in line
    assert not fakes.slack.calls("auth.test"), "a malformed token is not sent to Slack"
    assert any(
        "INNGEST_SIGNING_KEY" in x and "malformed" in x for x in lines(output, "fail", "config")
    )
    assert "well-formed" not in "".join(lines(output, "ok", "inngest.signing_key"))
    assert "signkey-prod-abcdef" not in output

    settings["INNGEST_SIGNING_KEY"] = "signkey-prod-" + "ab12" * 8  # 32 hex: cut short?
    settings["SLACK_BOT_TOKEN"] = SLACK_TOKEN
    code, output = doctor_cli(settings)
    assert "32 hex digits" in only(output, "warn", "inngest.signing_key")


# --- observability settings (docs/observability.md) ----------------------------------------------


def test_metrics_token_unset_warns_and_short_fails(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_cli(fakes.settings(sqlite_db))
    assert "no /metrics" in only(output, "warn", "metrics")
    assert "METRICS_TOKEN" in only(output, "warn", "metrics").split("fix:")[1]
    assert "not needed (no /metrics)" in only(output, "ok", "metrics.multiprocess")

    code, output = doctor_cli(fakes.settings(sqlite_db, METRICS_TOKEN="short-token-15c"))
    assert code == 1
    line = only(output, "fail", "metrics")
    assert "15 characters, fewer than 16" in line and "openssl rand" in line
    assert "short-token-15c" not in output

    code, output = doctor_cli(fakes.settings(sqlite_db, METRICS_TOKEN="x" * 16))
    assert "/metrics answers" in only(output, "ok", "metrics")


def test_several_workers_need_the_multiprocess_dir(
    fakes: Fakes, sqlite_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    settings = fakes.settings(sqlite_db, METRICS_TOKEN=METRICS_TOKEN)
    code, output = doctor_cli(settings)
    assert code == 1
    line = only(output, "fail", "metrics.multiprocess")
    assert "WEB_CONCURRENCY=3 without PROMETHEUS_MULTIPROC_DIR" in line
    assert "tmpfs" in line.split("fix:")[1]

    directory = tmp_path / "prometheus"
    directory.mkdir()
    code, output = doctor_cli({**settings, "PROMETHEUS_MULTIPROC_DIR": str(directory)})
    assert str(directory) in only(output, "ok", "metrics.multiprocess")

    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    code, output = doctor_cli(settings)
    assert "not needed (one worker)" in only(output, "ok", "metrics.multiprocess")


def test_malformed_log_format_fails_the_logs_check() -> None:
    report = doctor.run(environ={"INNGEST_DEV": "1", "LOG_FORMAT": "xml"}, timeout=1)
    output = report.render()
    assert report.exit_code == 1
    line = only(output, "fail", "logs")
    assert "LOG_FORMAT='xml' is malformed" in line and "text or json" in line.split("fix:")[1]
    assert any("LOG_FORMAT" in x for x in lines(output, "fail", "config"))


def test_log_format_json_is_ok() -> None:
    # through doctor.run: create_app would switch the process's logging to JSON
    environ = {"INNGEST_DEV": "1", "LOG_FORMAT": "json", "LOG_LEVEL": "WARNING"}
    output = doctor.run(environ=environ, timeout=1).render()
    assert "LOG_FORMAT=json, LOG_LEVEL=WARNING" in only(output, "ok", "logs")


def test_sentry_dsn_shape(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_cli(fakes.settings(sqlite_db))
    assert "error reporting off" in only(output, "ok", "sentry")

    # through doctor.run: create_app would start a real Sentry client for the rest of the session
    report = doctor.run(environ={"INNGEST_DEV": "1", "SENTRY_DSN": SENTRY_DSN}, timeout=1)
    output = report.render()
    assert "o12.ingest.sentry.invalid, project 4242" in only(output, "ok", "sentry")
    assert SENTRY_DSN not in output

    for bad, reason in (
        ("o12.ingest.sentry.invalid/4242", "must be an http(s) URL"),
        ("https://o12.ingest.sentry.invalid/4242", "has no public key"),
        ("https://0123abcd@o12.ingest.sentry.invalid/project", "numeric project id"),
    ):
        report = doctor.run(environ={"INNGEST_DEV": "1", "SENTRY_DSN": bad}, timeout=1)
        output = report.render()
        assert report.exit_code == 1
        line = only(output, "fail", "sentry")
        assert reason in line and "Client Keys (DSN)" in line.split("fix:")[1]
        assert bad not in output


def test_alert_channel_shape(fakes: Fakes, sqlite_db: str) -> None:
    code, output = doctor_cli(fakes.settings(sqlite_db))
    assert "SLACK_APPROVAL_CHANNEL" in only(output, "ok", "slack.alert_channel")

    code, output = doctor_cli(fakes.settings(sqlite_db, SLACK_ALERT_CHANNEL="C0ALERTS1"))
    assert "C0ALERTS1" in only(output, "ok", "slack.alert_channel")

    code, output = doctor_cli(fakes.settings(sqlite_db, SLACK_ALERT_CHANNEL="#alerts"))
    assert code == 1
    line = only(output, "fail", "slack.alert_channel")
    assert "#alerts does not look like a channel id" in line
    assert "About: Channel ID" in line.split("fix:")[1]
