"""Rows for approval tests: an app, an action and its pending approval request."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from support import db
from support.db.models import Action, App, ApprovalRequest, AuditLog, utcnow

_seq = itertools.count(1)


def make_app(slug: str = "acme", **kw: Any) -> int:
    with db.session() as s:
        app = App(
            slug=slug,
            name=kw.pop("name", "Acme Courses"),
            front_inbox_id=kw.pop("front_inbox_id", f"inb_{slug}"),
            integration_base_url=kw.pop("integration_base_url", "http://127.0.0.1:9"),
            integration_secret=kw.pop("integration_secret", "s" * 24),
            **kw,
        )
        s.add(app)
        s.flush()
        return app.id


def make_request(
    app_id: int,
    *,
    action_id: str | None = None,
    action_type: str = "refund",
    parameters: dict[str, Any] | None = None,
    expires_in: dt.timedelta | None = dt.timedelta(hours=24),
    draft_body: str | None = "Hi! I have refunded your purchase.",
    **kw: Any,
) -> str:
    action_id = action_id or f"act_test{next(_seq):04d}"
    now = utcnow()
    with db.session() as s:
        s.add(
            Action(
                id=action_id,
                conversation_id=kw.pop("conversation_id", "cnv_1"),
                app_id=app_id,
                type=action_type,
                parameters=parameters
                if parameters is not None
                else {"purchase_id": "pur_1", "amount": 4900, "reason": "charged twice"},
                requires_approval=True,
                status="pending_approval",
                reasoning=kw.pop("reasoning", "The customer was charged twice for one course."),
                draft_body=draft_body,
                customer_email=kw.pop("customer_email", "jane@example.com"),
                context_degraded=kw.pop("context_degraded", False),
                created_at=now,
            )
        )
        s.flush()
        s.add(
            ApprovalRequest(
                id=action_id,
                status="pending",
                created_at=now,
                expires_at=None if expires_in is None else now + expires_in,
                **kw,
            )
        )
    return action_id


def approval_row(action_id: str) -> dict[str, Any]:
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
    from sqlalchemy import select

    with db.session() as s:
        rows = s.scalars(
            select(AuditLog).where(AuditLog.action_id == action_id).order_by(AuditLog.id)
        ).all()
        return [
            {"event": r.event, "actor": r.actor, "detail": r.detail, "at": r.created_at}
            for r in rows
        ]


# -- the whole stack over real HTTP -----------------------------------------------------------

import contextlib  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import httpx  # noqa: E402

from support.events import ApprovalRequested, ProposedAction  # noqa: E402
from tests.conftest import (  # noqa: E402
    ANTHROPIC_KEY,
    APPROVAL_CHANNEL,
    APPROVERS,
    FRONT_TOKEN,
    INTEGRATION_SECRET,
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAM_ID,
    base_settings,
    serve_app,
)
from tests.fakes.anthropic import AnthropicFake  # noqa: E402
from tests.fakes.front import FrontFake  # noqa: E402
from tests.fakes.integration import IntegrationFake  # noqa: E402
from tests.fakes.slack import (  # noqa: E402
    SlackFake,
    block_actions_payload,
    signed_interaction,
    text_input_state,
    view_submission_payload,
)


def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Stack:
    """The app over HTTP with the Inngest double and the Slack, integration, Front, model fakes."""

    def __init__(self, server: Any, inngest: Any, slack: SlackFake, integration: IntegrationFake,
                 front: FrontFake, model: AnthropicFake):
        self.server, self.inngest, self.slack, self.integration = server, inngest, slack, integration
        self.front, self.model = front, model
        front.add_conversation("cnv_1", "inb_acme")
        self.app_id = make_app(integration_base_url=integration.url,
                               integration_secret=INTEGRATION_SECRET)
        user = integration.add_user("jane@example.com")
        self.purchase = integration.add_purchase(user["id"], {"amount": 4900})

    def new_request(self, **kw: Any) -> str:
        kw.setdefault("parameters", {"purchase_id": self.purchase["id"], "amount": 4900,
                                     "reason": "charged twice"})
        kw.setdefault("draft_body", None)  # no Front draft after execution in these tests
        return make_request(self.app_id, **kw)

    def request_event(self, action_id: str) -> dict[str, Any]:
        row = approval_row(action_id)
        event = ApprovalRequested(
            action_id=action_id, conversation_id="cnv_1", app_id=self.app_id,
            action=ProposedAction(type="refund", parameters=row["parameters"]),
            agent_reasoning="Charged twice.", customer_email="jane@example.com",
        ).to_event(event_id=f"approval-requested-{action_id}")
        return {"name": event.name, "data": event.data, "id": event.id}

    def request_approval(self, action_id: str) -> tuple[str, str]:
        """Send support/approval.requested; wait until the message is posted and the run waits."""
        self.inngest.send(self.request_event(action_id))
        self.inngest.wait_idle()
        row = approval_row(action_id)
        assert row["slack_channel"] and row["slack_ts"], "request not posted"
        return row["slack_channel"], row["slack_ts"]

    def post(self, payload: dict[str, Any], timestamp: int | None = None) -> httpx.Response:
        body, headers = signed_interaction(SLACK_SECRET, payload, timestamp)
        return httpx.post(self.server.url + "/slack/events", content=body, headers=headers,
                          timeout=30)

    def click(self, action_id: str, button: str = "approve_action", user: str = APPROVERS[0],
              team: str = TEAM_ID, timestamp: int | None = None) -> httpx.Response:
        row = approval_row(action_id)
        channel, ts = row["slack_channel"] or APPROVAL_CHANNEL, row["slack_ts"] or "1.1"
        payload = block_actions_payload(
            button, action_id, user_id=user, team_id=team, channel_id=channel, message_ts=ts,
            response_url=self.slack.response_url(user),
        )
        return self.post(payload, timestamp)

    def submit_reject(self, action_id: str, reason: str | None, user: str = APPROVERS[0],
                      team: str = TEAM_ID) -> httpx.Response:
        payload = view_submission_payload(
            "reject_reason", action_id, text_input_state("reason", "reason_input", reason),
            user_id=user, team_id=team,
        )
        return self.post(payload)

    def submit_edit(self, action_id: str, amount: str | None, draft: str | None,
                    user: str = APPROVERS[0]) -> httpx.Response:
        state = {**text_input_state("amount", "amount_input", amount),
                 **text_input_state("draft", "draft_input", draft)}
        payload = view_submission_payload("edit_action_submit", action_id, state, user_id=user,
                                          team_id=TEAM_ID)
        return self.post(payload)

    def decided_events(self, action_id: str) -> list[dict[str, Any]]:
        return [e for e in self.inngest.events_named("support/approval.decided")
                if e["data"].get("actionId") == action_id]

    def ephemerals_for(self, user: str) -> list[str]:
        return [e["text"] for e in self.slack.ephemerals if e["user"] == user]

    def message(self, action_id: str) -> dict[str, Any]:
        row = approval_row(action_id)
        return self.slack.message(row["slack_channel"], row["slack_ts"])


def button_ids(message: dict[str, Any]) -> set[str]:
    return {e.get("action_id") for b in message.get("blocks", []) if b["type"] == "actions"
            for e in b["elements"]}


@contextlib.contextmanager
def approval_stack(database_url: str, inngest: Any, **overrides: str) -> Iterator[Stack]:
    slack = SlackFake(token=SLACK_TOKEN, team_id=TEAM_ID)
    integration = IntegrationFake(secret=INTEGRATION_SECRET)
    front = FrontFake(token=FRONT_TOKEN)
    model = AnthropicFake(api_key=ANTHROPIC_KEY)
    fakes = [slack, integration, front, model]
    for fake in fakes:
        fake.start()
    settings = base_settings(
        database_url, INNGEST_BASE_URL=inngest.url, SLACK_API_BASE_URL=slack.url + "/api/",
        FRONT_API_BASE_URL=front.url, ANTHROPIC_BASE_URL=model.url, **overrides,
    )
    server = serve_app(settings)
    try:
        inngest.sync(server.url + "/api/inngest")
        yield Stack(server, inngest, slack, integration, front, model)
    finally:
        server.stop()
        for fake in fakes:
            fake.stop()
