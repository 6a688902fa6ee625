"""End-to-end harness: the app under gunicorn in a subprocess, as in production.

The test process hosts the outside world on 127.0.0.1: the Inngest protocol double (which calls the
app's ``/api/inngest``), and the Slack, Front, Anthropic and integration fakes. The app process only
knows them through its environment, exactly as it would know the real services.

``open_world()`` builds one such world (dev mode, or Inngest cloud mode with signed calls when given
a signing key); ``World`` carries what a scenario drives (signed Front webhooks, signed Slack clicks
and modal submissions) and inspects (rows, the Slack message, runs). ``render_blocks`` turns Block
Kit into the text a person would read; ``make demo`` prints the same rendering.

Nothing of the app is patched: the app process is a plain ``gunicorn app:app`` with the production
``gunicorn.conf.py``; its database is migrated and its product app registered through the real CLI.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import FrontFake, inbound_event, signed_webhook
from tests.fakes.inngest_double import InngestDouble, Run
from tests.fakes.integration import IntegrationFake
from tests.fakes.slack import (
    SlackFake,
    block_actions_payload,
    signed_interaction,
    text_input_state,
    view_submission_payload,
)

ROOT = Path(__file__).resolve().parents[2]
INBOX = "inb_acme"
INTEGRATION_TIMEOUT = 2.0
"""The app's INTEGRATION_TIMEOUT_SECONDS here: the "accepted, then timed out" fault takes 2 s."""
CHANNEL = "cha_acme_email"
CUSTOMER = "jane@example.com"

# The secrets the fakes and the app share (the same values as tests/conftest.py; repeated here so
# `make demo` does not import pytest's conftest).
FRONT_SECRET = "front-test-secret-0123456789"
SLACK_SECRET = "slack-test-signing-secret-0123"
SLACK_TOKEN = "xoxb-test-token"
FRONT_TOKEN = "front-test-token"
ANTHROPIC_KEY = "sk-ant-test-key"
APPROVERS = ("U0APPROVER1", "U0APPROVER2")
TEAM_ID = "T0TEAM"
APPROVAL_CHANNEL = "C0APPROVALS"
INTEGRATION_SECRET = "integration-secret-0123456789"

TABLES_IN_DELETE_ORDER = (
    "audit_log",
    "drafts",
    "approval_requests",
    "actions",
    "trust_scores",
)
"""Every table a scenario writes, children first; ``apps`` is kept (registered once per world)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (the Slack listeners work after the ack)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


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

    # -- inspection ----------------------------------------------------------------------------

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def rows(self, table: str) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {table}"))]
        finally:
            engine.dispose()

    def execute(self, sql: str, **params: Any) -> None:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(sql), params)
        finally:
            engine.dispose()

    def row(self, table: str, key: str) -> dict[str, Any]:
        [found] = [r for r in self.rows(table) if r["id"] == key]
        return found

    def approval(self, action_id: str) -> dict[str, Any]:
        return self.row("approval_requests", action_id)

    def action(self, action_id: str) -> dict[str, Any]:
        return self.row("actions", action_id)

    def audit(self, action_id: str | None = None) -> list[tuple[str, str]]:
        rows = sorted(self.rows("audit_log"), key=lambda r: r["id"])
        return [(r["event"], r["actor"]) for r in rows if action_id in (None, r["action_id"])]

    def slack_message(self, action_id: str) -> dict[str, Any]:
        row = self.approval(action_id)
        return self.slack.message(row["slack_channel"], row["slack_ts"])

    def run(self, fn: str) -> Run:
        runs = self.inngest.runs_for(fn)
        assert len(runs) == 1, [(r.fn_id, r.status) for r in runs]
        return runs[0]

    def decided_events(self, action_id: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.inngest.events_named("support/approval.decided")
            if e["data"].get("actionId") == action_id
        ]

    def settle(self, timeout: float = 30) -> None:
        self.inngest.wait_idle(timeout)

    # -- the outside world acting ----------------------------------------------------------------

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(self.url + path, content=body, headers=headers, timeout=15)

    def deliver(
        self,
        event_id: str,
        conversation: str,
        message_id: str,
        text: str,
        *,
        sender: str = CUSTOMER,
        subject: str = "Help",
    ) -> httpx.Response:
        """Front receives a customer email (stored in the fake) and sends us its signed webhook."""
        if conversation not in self.front._conversations:
            self.front.add_conversation(conversation, INBOX, subject)
        self.front.add_message(
            conversation, message_id, text=text, from_email=sender, subject=subject
        )
        body, headers = signed_webhook(
            FRONT_SECRET,
            inbound_event(event_id, conversation, INBOX, message_id, sender, subject, text),
        )
        response = self.post("/webhooks/front", body, headers)
        assert response.status_code == 200, response.text
        return response

    def click(
        self, action_id: str, button: str = "approve_action", user: str = APPROVERS[0]
    ) -> httpx.Response:
        """An approver clicks a button on the posted request (signed like Slack signs it)."""
        row = self.approval(action_id)
        channel, ts = row["slack_channel"], row["slack_ts"]
        payload = block_actions_payload(
            button,
            action_id,
            user_id=user,
            team_id=TEAM_ID,
            channel_id=channel,
            message_ts=ts,
            response_url=self.slack.response_url(user),
            message=self.slack.message(channel, ts),
        )
        body, headers = signed_interaction(SLACK_SECRET, payload)
        return self.post("/slack/events", body, headers)

    def submit_reject(
        self, action_id: str, reason: str, user: str = APPROVERS[0]
    ) -> httpx.Response:
        """The approver types a reason into the reject modal and submits it."""
        payload = view_submission_payload(
            "reject_reason",
            action_id,
            text_input_state("reason", "reason_input", reason),
            user_id=user,
            team_id=TEAM_ID,
        )
        body, headers = signed_interaction(SLACK_SECRET, payload)
        return self.post("/slack/events", body, headers)

    def submit_edit(
        self, action_id: str, amount: str | None, draft: str | None, user: str = APPROVERS[0]
    ) -> httpx.Response:
        """The approver changes the amount and/or the draft in the edit modal: approve with edits."""
        state = {
            **text_input_state("amount", "amount_input", amount),
            **text_input_state("draft", "draft_input", draft),
        }
        payload = view_submission_payload(
            "edit_action_submit", action_id, state, user_id=user, team_id=TEAM_ID
        )
        body, headers = signed_interaction(SLACK_SECRET, payload)
        return self.post("/slack/events", body, headers)

    # -- seeding -------------------------------------------------------------------------------

    def seed_customer(self, amount: int = 4900) -> str:
        """The customer and one purchase in the product app; returns the purchase id."""
        user = self.integration.user(CUSTOMER) or self.integration.add_user(CUSTOMER)
        return str(self.integration.add_purchase(user["id"], {"amount": amount})["id"])

    def script_refund(self, purchase_id: str, draft: str = "Hi Jane, **we are on it**.") -> None:
        """Claude looks the customer up, proposes a refund, drafts a reply, explains itself."""
        c = self.anthropic
        c.reply_tool_use("lookup_user", {"email": CUSTOMER})
        c.reply_tool_use("get_purchases", {"user_id": self.integration.user(CUSTOMER)["id"]})
        c.reply_tool_use("process_refund", {"purchase_id": purchase_id, "reason": "charged twice"})
        c.reply_tool_use("draft_response", {"body": draft, "category": "refund"})
        c.reply_text("The customer was charged twice; proposing a full refund.")

    def script_answer(
        self, body: str = "Use **Export** under Settings.", confidence: float = 0.97
    ) -> None:
        """Claude answers a how-to question with a draft (no action)."""
        self.anthropic.reply_tool_use(
            "draft_response", {"body": body, "category": "how_to", "confidence": confidence}
        )
        self.anthropic.reply_text("Answered a how-to question.")

    def trust(self, category: str = "how_to", score: float = 0.95, samples: int = 80) -> None:
        """Let the trust gate (support/policy.py) allow auto-send for ``category``."""
        self.execute(
            "UPDATE apps SET auto_send_enabled = :on WHERE id = :id", on=True, id=self.app_id
        )
        self.execute(
            "INSERT INTO trust_scores (app_id, category, score, samples, updated_at) "
            "VALUES (:a, :c, :s, :n, CURRENT_TIMESTAMP)",
            a=self.app_id,
            c=category,
            s=score,
            n=samples,
        )

    def propose_refund(self, event_id: str, conversation: str) -> str:
        """A refund request comes in; returns the action id once the request waits in Slack."""
        purchase_id = self.seed_customer()
        self.script_refund(purchase_id)
        self.deliver(
            event_id, conversation, f"msg_{event_id}", "I was charged twice, please refund me."
        )
        self.settle()
        [requested] = [
            e
            for e in self.inngest.events_named("support/approval.requested")
            if e["data"]["conversationId"] == conversation
        ]
        action_id = str(requested["data"]["actionId"])
        row = self.approval(action_id)
        assert row["slack_ts"], f"request not posted to Slack:\n{self.log()[-3000:]}"
        return action_id

    def reset(self) -> None:
        """A clean world for the next scenario: no rows but the app, fresh fakes, no runs."""
        self.inngest.wait_idle(timeout=30, raise_on_timeout=False)
        self.inngest.reset()
        for table in TABLES_IN_DELETE_ORDER:
            self.execute(f"DELETE FROM {table}")
        self.execute(
            "UPDATE apps SET auto_send_enabled = :off, approval_required = NULL", off=False
        )
        for fake in (self.slack, self.front, self.anthropic, self.integration):
            fake.reset()
        self.anthropic.responder = None
        self.front.add_inbox(INBOX, [CHANNEL])


# -- Block Kit as text --------------------------------------------------------------------------

_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]+)>")


def slack_text(text: str) -> str:
    """Slack mrkdwn tokens as a reader sees them (dates, mentions, links)."""
    text = _DATE.sub(r"\1", text)
    text = _MENTION.sub(r"@\1", text)
    return _LINK.sub(r"\2 (\1)", text)


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return slack_text(str(obj.get("text", "")))
    return slack_text(str(obj or ""))


def render_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """The lines a person reads in Slack for ``blocks`` (buttons as ``[Label]``)."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"*** {_text_of(block.get('text'))} ***")
        elif kind == "section":
            lines.extend(_text_of(block.get("text")).splitlines())
        elif kind == "context":
            lines.append("  ".join(_text_of(e) for e in block.get("elements", [])))
        elif kind == "divider":
            lines.append("-" * 40)
        elif kind == "actions":
            lines.append(
                " ".join(f"[{_text_of(e.get('text'))}]" for e in block.get("elements", []))
            )
    return lines


def button_ids(message: dict[str, Any]) -> set[str]:
    return {
        e.get("action_id")
        for b in message.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
    }


# -- the app process ------------------------------------------------------------------------------


def app_env(world: World, **overrides: str | None) -> dict[str, str]:
    """The app's environment: production-like settings pointing at the fakes. An override of None
    removes the variable (``INNGEST_DEV=None`` for cloud mode)."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("INNGEST_", "SLACK_", "FRONT_", "ANTHROPIC_", "DATABASE_", "PUBLIC_"))
    }
    env: dict[str, str] = {
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
        "INTEGRATION_TIMEOUT_SECONDS": str(INTEGRATION_TIMEOUT),
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=world.env,
        capture_output=True,
        text=True,
        check=False,
    )


def start_app(world: World, tmp: Path, **overrides: str | None) -> None:
    """Migrate with the CLI, then serve under gunicorn until /readyz answers."""
    world.env = app_env(world, **overrides)
    port = free_port()
    world.url = f"http://127.0.0.1:{port}"
    world.env["PUBLIC_URL"] = world.url
    migrated = run_cli(world, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    world.log_path = tmp / f"gunicorn-{port}.log"
    with world.log_path.open("wb") as log:
        world.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "app:app",
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=world.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if world.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{world.log()}")
        try:
            if httpx.get(world.url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"app not ready after 30 s:\n{world.log()}")


def register_product_app(world: World) -> None:
    """``flask apps add`` for the product app whose inbox the fakes use."""
    result = run_cli(
        world,
        "apps",
        "add",
        "--slug",
        "acme",
        "--name",
        "Acme Courses",
        "--front-inbox",
        INBOX,
        "--integration-url",
        world.integration.url,
        "--integration-secret",
        INTEGRATION_SECRET,
    )
    assert result.returncode == 0, result.stderr
    world.app_id = int(result.stdout.split("(id ")[1].split(")")[0])


def stop_app(world: World) -> None:
    """Quick shutdown (SIGINT): the scenarios are over, nothing in flight needs draining."""
    if world.process and world.process.poll() is None:
        os.killpg(world.process.pid, signal.SIGINT)
        try:
            world.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(world.process.pid, signal.SIGKILL)
            world.process.wait()


def empty_tables(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            for table in (*TABLES_IN_DELETE_ORDER, "apps"):
                if sa.inspect(conn).has_table(table):
                    conn.execute(sa.text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()


@contextlib.contextmanager
def open_world(
    database_url: str,
    tmp: Path,
    *,
    signing_key: str | None = None,
    event_key: str | None = None,
    retry_delay: float = 0.0,
    **env: str | None,
) -> Iterator[World]:
    """Start the fakes and the double, serve the app under gunicorn, register the product app,
    sync the functions. With ``signing_key`` the app runs in Inngest cloud mode."""
    empty_tables(database_url)
    inngest = InngestDouble(signing_key=signing_key, event_key=event_key, retry_delay=retry_delay)
    fakes: list[Any] = [
        inngest,
        SlackFake(SLACK_TOKEN, team_id=TEAM_ID),
        FrontFake(FRONT_TOKEN),
        AnthropicFake(ANTHROPIC_KEY),
        IntegrationFake(INTEGRATION_SECRET),
    ]
    for fake in fakes:
        fake.start()
    world = World(database_url, *fakes)
    if signing_key:
        env = {
            "INNGEST_DEV": None,
            "INNGEST_SIGNING_KEY": signing_key,
            "INNGEST_EVENT_KEY": event_key,
            **env,
        }
    try:
        start_app(world, tmp, **env)
        register_product_app(world)
        world.inngest.sync(world.url + "/api/inngest")
        world.front.add_inbox(INBOX, [CHANNEL])
        yield world
    finally:
        stop_app(world)
        for fake in fakes:
            fake.stop()
