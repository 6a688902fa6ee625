"""The one test world: the app served over real HTTP with the Inngest double and every loopback fake.

Two ways to serve the same app, one set of scenario verbs:

- ``server="inprocess"``: ``create_app(settings)`` served by werkzeug in a thread of the test process
  (fast; the test process shares the app's database configuration, so rows can be seeded with the
  ORM);
- ``server="gunicorn"``: a plain ``gunicorn app:app`` subprocess with the production
  ``gunicorn.conf.py``, migrated and given its product app through the real CLI, as in production.

The test process hosts the outside world on 127.0.0.1: the Inngest protocol double (which calls the
app's ``/api/inngest``), and the Slack, Front, Anthropic and integration fakes. ``World`` carries
what a scenario drives (signed Front webhooks, signed Slack clicks and modal submissions, approval
requests) and inspects (rows, the Slack message, runs, events). ``render_blocks`` turns Block Kit
into the text a person reads; ``make demo`` prints the same rendering.

Without a whole world: ``settings()`` is a complete dev configuration, ``live_app(env)`` serves
``create_app(env)`` (a context manager), ``empty_tables`` clears a database, and ``make_app`` /
``make_request`` / ``approval_row`` / ``audit_rows`` write and read rows through ``support.db``.

The constants below are the secrets and ids the fakes and the app share: tests import them from
here (never from ``conftest``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from tests.support_server import LiveServer

ROOT = Path(__file__).resolve().parents[1]

FRONT_SECRET = "front-test-secret-0123456789"
SLACK_SECRET = "slack-test-signing-secret-0123"
SLACK_TOKEN = "xoxb-test-token"
FRONT_TOKEN = "front-test-token"
ANTHROPIC_KEY = "sk-ant-test-key"
APPROVERS = ("U0APPROVER1", "U0APPROVER2")
TEAM_ID = "T0TEAM"
APPROVAL_CHANNEL = "C0APPROVALS"
INTEGRATION_SECRET = "integration-secret-0123456789"

INBOX = "inb_acme"
CHANNEL = "cha_acme_email"
"""The Front channel of ``INBOX`` (drafts are created on it)."""
CUSTOMER = "jane@example.com"
INTEGRATION_TIMEOUT = 2.0
"""INTEGRATION_TIMEOUT_SECONDS in a world: the "accepted, then timed out" fault takes 2 s."""

TABLES_IN_DELETE_ORDER = ("audit_log", "drafts", "approval_requests", "actions", "trust_scores")
"""Every table a scenario writes, children first; ``apps`` is kept (registered once per world)."""

Server = Literal["inprocess", "gunicorn"]
_seq = itertools.count(1)


def settings(database_url: str, **overrides: str) -> dict[str, str]:
    """A complete dev-mode configuration for ``create_app`` (fake URLs come in ``overrides``)."""
    env = {
        "INNGEST_DEV": "1",
        "DATABASE_URL": database_url,
        "FRONT_WEBHOOK_SECRET": FRONT_SECRET,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_APPROVER_IDS": ",".join(APPROVERS),
        "SLACK_TEAM_ID": TEAM_ID,
        "SLACK_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
        "FRONT_API_TOKEN": FRONT_TOKEN,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "LOG_LEVEL": "WARNING",
    }
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def eventually(check: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (work that follows an acknowledgement)."""
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
    server: Server = "inprocess"
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    app_id: int = 0
    live: LiveServer | None = None
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

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
        """(event, actor) of the audit rows, oldest first; of one action when given."""
        return [(r["event"], r["actor"]) for r in self.audit_rows(action_id)]

    def audit_rows(self, action_id: str | None = None) -> list[dict[str, Any]]:
        rows = sorted(self.rows("audit_log"), key=lambda r: r["id"])
        return [r for r in rows if action_id in (None, r["action_id"])]

    def slack_message(self, action_id: str) -> dict[str, Any]:
        row = self.approval(action_id)
        return self.slack.message(row["slack_channel"], row["slack_ts"])

    def ephemerals_for(self, user: str) -> list[str]:
        return [e["text"] for e in self.slack.ephemerals if e["user"] == user]

    def run(self, fn: str) -> Run:
        runs = self.inngest.runs_for(fn)
        assert len(runs) == 1, [(r.fn_id, r.status) for r in runs]
        return runs[0]

    def completed(self, fn: str) -> Run:
        """The one run of ``fn``, which must have completed."""
        run = self.run(fn)
        assert run.status == "completed", run.error
        return run

    def finished(self, fn: str) -> list[Run]:
        self.settle()
        return [r for r in self.inngest.runs_for(fn) if r.done]

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
        return httpx.post(self.url + path, content=body, headers=headers, timeout=30)

    def deliver(
        self,
        event_id: str,
        conversation: str,
        message_id: str,
        text: str,
        sender: str = CUSTOMER,
        subject: str = "Help",
        reply_to: str | None = None,
    ) -> httpx.Response:
        """Front receives a customer email (stored in the fake) and sends us its signed webhook."""
        if conversation not in self.front._conversations:
            self.front.add_conversation(conversation, INBOX, subject)
        self.front.add_message(
            conversation,
            message_id,
            text=text,
            from_email=sender,
            subject=subject,
            reply_to=reply_to,
        )
        body, headers = signed_webhook(
            FRONT_SECRET,
            inbound_event(
                event_id, conversation, INBOX, message_id, sender, subject, text, reply_to
            ),
        )
        response = self.post("/webhooks/front", body, headers)
        assert response.status_code == 200, response.text
        return response

    def slack_post(self, payload: dict[str, Any], timestamp: int | None = None) -> httpx.Response:
        """A signed Slack interaction posted to ``/slack/events``."""
        body, headers = signed_interaction(SLACK_SECRET, payload, timestamp)
        return self.post("/slack/events", body, headers)

    def click(
        self,
        action_id: str,
        button: str = "approve_action",
        user: str = APPROVERS[0],
        team: str = TEAM_ID,
        timestamp: int | None = None,
    ) -> httpx.Response:
        """An approver clicks a button on the posted request (signed like Slack signs it)."""
        row = self.approval(action_id)
        channel, ts = row["slack_channel"] or APPROVAL_CHANNEL, row["slack_ts"] or "1.1"
        posted = self.slack.message(channel, ts) if row["slack_ts"] else None
        payload = block_actions_payload(
            button,
            action_id,
            user_id=user,
            team_id=team,
            channel_id=channel,
            message_ts=ts,
            response_url=self.slack.response_url(user),
            **({"message": posted} if posted else {}),
        )
        return self.slack_post(payload, timestamp)

    def submit_reject(
        self, action_id: str, reason: str | None, user: str = APPROVERS[0], team: str = TEAM_ID
    ) -> httpx.Response:
        """The approver types a reason into the reject modal and submits it."""
        payload = view_submission_payload(
            "reject_reason",
            action_id,
            text_input_state("reason", "reason_input", reason),
            user_id=user,
            team_id=team,
        )
        return self.slack_post(payload)

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
        return self.slack_post(payload)

    def request_event(self, action_id: str) -> dict[str, Any]:
        """support/approval.requested for a seeded request, as the agent workflow sends it."""
        from support.events import ApprovalRequested, ProposedAction

        row = self.action(action_id)
        parameters = row["parameters"]
        if isinstance(parameters, str):  # a JSON column read as text
            parameters = json.loads(parameters)
        event = ApprovalRequested(
            action_id=action_id,
            conversation_id=row["conversation_id"],
            app_id=self.app_id,
            action=ProposedAction(type=row["type"], parameters=parameters),
            agent_reasoning=row["reasoning"] or "",
            customer_email=row["customer_email"],
        ).to_event(event_id=f"approval-requested-{action_id}")
        return {"name": event.name, "data": event.data, "id": event.id}

    def request_approval(self, action_id: str) -> tuple[str, str]:
        """Send support/approval.requested for a seeded request; wait until it is posted."""
        self.inngest.send(self.request_event(action_id))
        self.settle()
        posted = self.approval(action_id)
        assert posted["slack_channel"] and posted["slack_ts"], f"not posted:\n{self.log()[-3000:]}"
        return posted["slack_channel"], posted["slack_ts"]

    # -- seeding -------------------------------------------------------------------------------

    def seed_customer(self, amount: int = 4900) -> str:
        """The customer and one purchase in the product app; returns the purchase id."""
        user = self.integration.user(CUSTOMER) or self.integration.add_user(CUSTOMER)
        return str(self.integration.add_purchase(user["id"], {"amount": amount})["id"])

    def new_request(
        self,
        *,
        action_id: str | None = None,
        action_type: str = "refund",
        parameters: dict[str, Any] | None = None,
        expires_in: dt.timedelta | None = dt.timedelta(hours=24),
        draft_body: str | None = None,
        conversation_id: str = "cnv_1",
        **approval_columns: Any,
    ) -> str:
        """A pending action and its approval request, written straight into the database (as the
        agent workflow would leave them); the refund is for a real purchase of the customer."""
        if parameters is None:
            parameters = {"purchase_id": self.seed_customer(), "amount": 4900}
            parameters["reason"] = "charged twice"
        if conversation_id not in self.front._conversations:
            self.front.add_conversation(conversation_id, INBOX)
        engine = sa.create_engine(self.database_url)
        try:
            return make_request(
                self.app_id,
                engine=engine,
                action_id=action_id,
                action_type=action_type,
                parameters=parameters,
                expires_in=expires_in,
                draft_body=draft_body,
                conversation_id=conversation_id,
                **approval_columns,
            )
        finally:
            engine.dispose()

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


# -- rows in the test process's database (``support.db`` as configured) --------------------------


def make_app(slug: str = "acme", **columns: Any) -> int:
    """A product app row (``inb_<slug>``, an unreachable integration unless given)."""
    from support import db
    from support.db.models import App

    with db.session() as s:
        app = App(
            slug=slug,
            name=columns.pop("name", "Acme Courses"),
            front_inbox_id=columns.pop("front_inbox_id", f"inb_{slug}"),
            integration_base_url=columns.pop("integration_base_url", "http://127.0.0.1:9"),
            integration_secret=columns.pop("integration_secret", "s" * 24),
            **columns,
        )
        s.add(app)
        s.flush()
        return app.id


def make_request(
    app_id: int,
    *,
    engine: sa.Engine | None = None,
    action_id: str | None = None,
    action_type: str = "refund",
    parameters: dict[str, Any] | None = None,
    expires_in: dt.timedelta | None = dt.timedelta(hours=24),
    draft_body: str | None = "Hi! I have refunded your purchase.",
    conversation_id: str = "cnv_1",
    **approval_columns: Any,
) -> str:
    """A pending action and its approval request, written straight into the database (as the
    agent workflow would leave them), on ``engine`` or ``support.db``'s; returns the action id."""
    from support import db
    from support.db.models import Action, ApprovalRequest

    action_id = action_id or f"act_test{next(_seq):04d}"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    action = {
        "id": action_id,
        "conversation_id": conversation_id,
        "app_id": app_id,
        "type": action_type,
        "parameters": parameters
        if parameters is not None
        else {"purchase_id": "pur_1", "amount": 4900, "reason": "charged twice"},
        "requires_approval": True,
        "status": "pending_approval",
        "reasoning": approval_columns.pop(
            "reasoning", "The customer was charged twice for one course."
        ),
        "draft_body": draft_body,
        "customer_email": approval_columns.pop("customer_email", CUSTOMER),
        "context_degraded": approval_columns.pop("context_degraded", False),
        "created_at": now,
    }
    request = {
        "id": action_id,
        "status": "pending",
        "created_at": now,
        "expires_at": None if expires_in is None else now + expires_in,
        **approval_columns,
    }
    with (engine or db.engine()).begin() as conn:
        conn.execute(sa.insert(Action.__table__), [action])
        conn.execute(sa.insert(ApprovalRequest.__table__), [request])
    return action_id


def approval_row(action_id: str) -> dict[str, Any]:
    """The approval request and its action's outcome, as one dict."""
    from support import db
    from support.db.models import Action, ApprovalRequest

    with db.session() as s:
        req = s.get(ApprovalRequest, action_id)
        action = s.get(Action, action_id)
        assert req is not None and action is not None
        return {
            "status": req.status,
            "decided_by": req.decided_by,
            "decided_at": req.decided_at,
            "reason": req.reason,
            "edits": req.edits,
            "resolved_at": req.resolved_at,
            "reminded_at": req.reminded_at,
            "slack_channel": req.slack_channel,
            "slack_ts": req.slack_ts,
            "action_status": action.status,
            "parameters": action.parameters,
            "result": action.result,
            "error": action.error,
        }


def audit_rows(action_id: str) -> list[dict[str, Any]]:
    """The audit entries of one action, oldest first (detail decoded)."""
    from support import db
    from support.db.models import AuditLog

    with db.session() as s:
        rows = s.scalars(
            sa.select(AuditLog).where(AuditLog.action_id == action_id).order_by(AuditLog.id)
        ).all()
        return [
            {"event": r.event, "actor": r.actor, "detail": r.detail, "at": r.created_at}
            for r in rows
        ]


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


# -- serving the app ----------------------------------------------------------------------------


def app_env(world: World, **overrides: str | None) -> dict[str, str]:
    """The app's settings, pointing at the fakes. An override of None removes the variable
    (``INNGEST_DEV=None`` for cloud mode)."""
    env = settings(
        world.database_url,
        INNGEST_BASE_URL=world.inngest.url,
        FRONT_API_BASE_URL=world.front.url,
        SLACK_API_BASE_URL=world.slack.url + "/api/",
        ANTHROPIC_BASE_URL=world.anthropic.url,
        INTEGRATION_TIMEOUT_SECONDS=str(INTEGRATION_TIMEOUT),
    )
    if world.server == "gunicorn":
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(
                ("INNGEST_", "SLACK_", "FRONT_", "ANTHROPIC_", "DATABASE_", "PUBLIC_")
            )
        }
        env = {**keep, **env, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "INFO", "WEB_CONCURRENCY": "2"}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """``flask --app app ARGS`` in a subprocess with the world's environment."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *args],
        cwd=ROOT,
        env=world.env,
        capture_output=True,
        text=True,
        check=False,
    )


def live_app(env: dict[str, str]) -> LiveServer:
    """``create_app(env)``, to serve over HTTP in a thread of the test process: ``with
    live_app(env) as server:`` (or ``.start()`` and ``.stop()``)."""
    from app import create_app

    return LiveServer(create_app(env))


def _start_inprocess(world: World) -> None:
    world.live = live_app(world.env).start()
    world.url = world.live.url


def _start_gunicorn(world: World, tmp: Path) -> None:
    """Migrate with the CLI, then start gunicorn (``_wait_ready`` waits for it)."""
    port = free_port()
    world.url = f"http://127.0.0.1:{port}"
    world.env["PUBLIC_URL"] = world.url
    migrated = run_cli(world, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    world.log_path = tmp / f"gunicorn-{port}.log"
    with world.log_path.open("wb") as log:
        world.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "app:app", "--config", "gunicorn.conf.py"]
            + ["--bind", f"127.0.0.1:{port}"]
            # its own control socket: the default ($HOME/.gunicorn/gunicorn.ctl) is one path for
            # every gunicorn of the user, and test sessions run side by side
            + ["--control-socket", str(tmp / f"gunicorn-{port}.ctl")],
            cwd=ROOT,
            env=world.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_ready(world: World) -> None:
    """Until gunicorn's /readyz answers 200."""
    assert world.process is not None
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


def _register_product_app(world: World) -> None:
    """The product app whose inbox the fakes use: ``flask apps add`` (gunicorn) or
    ``support.apps.add`` (in process, the same function the command calls)."""
    if world.server == "inprocess":
        from support import apps

        world.app_id = apps.add(
            slug="acme",
            name="Acme Courses",
            front_inbox_id=INBOX,
            integration_base_url=world.integration.url,
            integration_secret=INTEGRATION_SECRET,
        ).id
        return
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


def _stop(world: World) -> None:
    if world.live is not None:
        world.live.stop()
    if world.process and world.process.poll() is None:
        # Quick shutdown (SIGINT) of the master, which sends its workers SIGQUIT: the scenarios are
        # over, nothing in flight needs draining. Not SIGINT to the whole group: a gthread worker
        # given SIGINT and then its master's SIGQUIT deadlocks in its own handler (both shut its
        # thread pool down; the second waits on the lock the first holds), and the master then
        # waits out graceful_timeout. A worker the master signals while it is still booting never
        # hears it either; so after 5 s whatever is left of the group is killed.
        os.kill(world.process.pid, signal.SIGINT)
        try:
            world.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(world.process.pid, signal.SIGKILL)
            world.process.wait()


def empty_tables(database_url: str) -> None:
    """Delete every row of every table (children first); the schema, if any yet, stays."""
    from support.db.models import Base

    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            present = set(sa.inspect(conn).get_table_names())
            for table in reversed(Base.metadata.sorted_tables):
                if table.name in present:
                    conn.execute(table.delete())
    finally:
        engine.dispose()


@contextlib.contextmanager
def open_world(
    database_url: str,
    tmp: Path | None = None,
    *,
    server: Server = "inprocess",
    inngest: InngestDouble | None = None,
    signing_key: str | None = None,
    event_key: str | None = None,
    retry_delay: float = 0.0,
    **env: str | None,
) -> Iterator[World]:
    """Start the fakes and the double (or use ``inngest``), serve the app, register the product
    app, sync the functions. With ``signing_key`` the app runs in Inngest cloud mode. ``env``
    overrides settings (None removes one). ``tmp`` (gunicorn only) holds the server's log."""
    if server == "gunicorn" and tmp is None:
        raise ValueError("a gunicorn world needs tmp for its log")
    empty_tables(database_url)
    own_double = inngest is None
    double = inngest or InngestDouble(
        signing_key=signing_key, event_key=event_key, retry_delay=retry_delay
    )
    fakes: list[Any] = [
        SlackFake(SLACK_TOKEN, team_id=TEAM_ID),
        FrontFake(FRONT_TOKEN),
        AnthropicFake(ANTHROPIC_KEY),
        IntegrationFake(INTEGRATION_SECRET),
    ]
    started: list[Any] = [double] if own_double else []
    for fake in [*started, *fakes]:
        fake.start()
    world = World(database_url, double, *fakes, server=server)
    if signing_key:
        env = {
            "INNGEST_DEV": None,
            "INNGEST_SIGNING_KEY": signing_key,
            "INNGEST_EVENT_KEY": event_key,
            **env,
        }
    world.env = app_env(world, **env)
    try:
        if server == "gunicorn":
            assert tmp is not None
            _start_gunicorn(world, tmp)
            _register_product_app(world)  # the CLI runs while the workers boot
            _wait_ready(world)
        else:
            _start_inprocess(world)
            _register_product_app(world)
        world.inngest.sync(world.url + "/api/inngest")
        world.front.add_inbox(INBOX, [CHANNEL])
        yield world
    finally:
        _stop(world)
        # side by side: each stop waits out its server's poll interval (serve_forever's 50 ms)
        with ThreadPoolExecutor(len(started) + len(fakes)) as pool:
            list(pool.map(lambda fake: fake.stop(), [*started, *fakes]))
