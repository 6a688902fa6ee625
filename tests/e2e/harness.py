"""End-to-end harness: the app under gunicorn in a subprocess, as in production.

The test process hosts the outside world on 127.0.0.1: the Inngest protocol double (which calls the
app's ``/api/inngest``), and the Slack, Front, Anthropic and integration fakes. The app process only
knows them through its environment, exactly as it would know the real services.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.conftest import (
    ANTHROPIC_KEY,
    APPROVAL_CHANNEL,
    APPROVERS,
    FRONT_SECRET,
    FRONT_TOKEN,
    INTEGRATION_SECRET,
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAM_ID,
)
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import FrontFake
from tests.fakes.inngest_double import InngestDouble
from tests.fakes.integration import IntegrationFake
from tests.fakes.slack import SlackFake

ROOT = Path(__file__).resolve().parents[2]
INBOX = "inb_acme"
CHANNEL = "cha_acme_email"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class World:
    """Everything a scenario drives or inspects."""

    database_url: str
    inngest: InngestDouble
    slack: SlackFake
    front: FrontFake
    anthropic: AnthropicFake
    integration: IntegrationFake
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    app_id: int | None = None

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.url + path, content=body, headers=headers, timeout=15)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def rows(self, table: str) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
        finally:
            engine.dispose()


def app_env(world: World, **overrides: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "SLACK_", "FRONT_", "ANTHROPIC_", "DATABASE_"))}
    env = {
        **keep,
        "PYTHONPATH": str(ROOT),
        "INNGEST_DEV": "1",
        "INNGEST_BASE_URL": world.inngest.url,
        "DATABASE_URL": world.database_url,
        "FRONT_WEBHOOK_SECRET": FRONT_SECRET,
        "FRONT_API_TOKEN": FRONT_TOKEN,
        "FRONT_API_BASE_URL": world.front.url,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_API_BASE_URL": world.slack.url + "/api/",
        "SLACK_APPROVER_IDS": ",".join(APPROVERS),
        "SLACK_TEAM_ID": TEAM_ID,
        "SLACK_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "ANTHROPIC_BASE_URL": world.anthropic.url,
        "LOG_LEVEL": "INFO",
        "WEB_CONCURRENCY": "2",
    }
    env.update(overrides)
    return env


def start_app(world: World, tmp: Path, **overrides: str) -> None:
    """Migrate with the CLI, register the app, then serve under gunicorn until /readyz answers."""
    world.env = app_env(world, **overrides)
    port = free_port()
    world.url = f"http://127.0.0.1:{port}"
    world.env["PUBLIC_URL"] = world.url
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=world.env, check=True, capture_output=True)
    world.log_path = tmp / f"gunicorn-{port}.log"
    log = world.log_path.open("wb")
    world.process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "app:app", "--config", "gunicorn.conf.py",
         "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT, env=world.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if world.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{world.log()}")
        try:
            if httpx.get(world.url + "/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise RuntimeError(f"app not ready after 30 s:\n{world.log()}")


def register_product_app(world: World) -> None:
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    result = subprocess.run(
        [*flask, "apps", "add", "--slug", "acme", "--name", "Acme Courses", "--front-inbox", INBOX,
         "--integration-url", world.integration.url, "--integration-secret", INTEGRATION_SECRET],
        cwd=ROOT, env=world.env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    world.app_id = int(result.stdout.split("(id ")[1].split(")")[0])


def stop_app(world: World) -> None:
    if world.process and world.process.poll() is None:
        os.killpg(world.process.pid, signal.SIGTERM)
        try:
            world.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(world.process.pid, signal.SIGKILL)
            world.process.wait()
