"""Failures nobody saw (issue 10, item 7): a run that exhausts its retries is recorded and shown
to a person, through Inngest's ``on_failure`` (``inngest/function.failed``), over real HTTP
against the Inngest double and the loopback fakes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from support import apps
from tests.conftest import (
    ANTHROPIC_KEY,
    APPROVAL_CHANNEL,
    FRONT_SECRET,
    FRONT_TOKEN,
    SLACK_TOKEN,
    TEAM_ID,
    base_settings,
    serve_app,
)
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import FrontFake, inbound_event, signed_webhook
from tests.fakes.slack import SlackFake
from tests.support_server import LiveServer
from tests.test_front_door import INBOX, post

ALERTS = "C0ALERTS"


@dataclass
class World:
    server: LiveServer
    inngest: Any
    front: FrontFake
    claude: AnthropicFake
    slack: SlackFake
    database_url: str

    def audit(self, event: str) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text("SELECT * FROM audit_log WHERE event = :e"), {"e": event}
                ).mappings()
                return [dict(r) for r in rows]
        finally:
            engine.dispose()


def _world(clean_db: str, inngest: Any, **settings: str) -> Iterator[World]:
    with (
        FrontFake(FRONT_TOKEN) as front,
        AnthropicFake(ANTHROPIC_KEY) as claude,
        SlackFake(token=SLACK_TOKEN, team_id=TEAM_ID) as slack,
    ):
        front.add_inbox(INBOX)
        front.add_conversation(
            "cnv_1", INBOX, messages=[{"message_id": "msg_1", "text": "I was charged twice"}]
        )
        env = base_settings(
            clean_db,
            INNGEST_BASE_URL=inngest.url,
            FRONT_API_BASE_URL=front.url,
            ANTHROPIC_BASE_URL=claude.url,
            SLACK_API_BASE_URL=slack.url + "/api/",
            **settings,
        )
        server = serve_app(env)
        try:
            inngest.sync(server.url + "/api/inngest")
            apps.add(
                slug="acme",
                name="Acme",
                front_inbox_id=INBOX,
                integration_base_url="http://127.0.0.1:9",
                integration_secret="s" * 20,
            )
            yield World(server, inngest, front, claude, slack, clean_db)
            inngest.wait_idle(timeout=60)
        finally:
            server.stop()


@pytest.fixture
def world(clean_db: str, inngest: Any) -> Iterator[World]:
    yield from _world(clean_db, inngest)


def _deliver(world: World) -> None:
    body, headers = signed_webhook(
        FRONT_SECRET,
        inbound_event(
            "evt_1",
            "cnv_1",
            INBOX,
            "msg_1",
            "customer@example.com",
            "Refund",
            "I was charged twice",
        ),
    )
    assert post(world.server, body, headers).status_code == 200


def test_every_function_has_a_failure_handler(world: World) -> None:
    registered = set(world.inngest.functions)
    mains = {f for f in registered if not f.endswith("-failure")}
    assert mains and {f"{f}-failure" for f in mains} <= registered
    for fn_id in mains:
        [trigger] = world.inngest.functions[f"{fn_id}-failure"].triggers
        assert trigger["event"] == "inngest/function.failed"
        assert fn_id in trigger["expression"]


def test_model_down_for_good_is_recorded_alerted_and_commented(world: World) -> None:
    """The model API stays down: the inbound run fails after its retries (0 drafts, 0 audit rows,
    no alert before). Now: one audit row, one Slack alert, one Front comment."""
    world.claude.fail(529, times=200, retry_after=0.01)
    _deliver(world)
    world.inngest.wait_idle(timeout=120)

    [run] = world.inngest.runs_for("handle-inbound-message")
    assert run.status == "failed"
    assert len([a for a in run.attempts if a["target"] == "step"]) >= 5  # it used its retries
    [failed] = [e for e in world.inngest.internal_events if e["name"] == "inngest/function.failed"]
    assert failed["data"]["run_id"] == run.run_id
    [handler] = world.inngest.runs_for("handle-inbound-message-failure")
    assert handler.status == "completed", handler.error

    [row] = world.audit("function.failed")
    assert row["conversation_id"] == "cnv_1"
    assert row["actor"] == "inngest"

    alerts = [p for p in world.slack.posted if p.get("channel") == APPROVAL_CHANNEL]
    assert len(alerts) == 1, world.slack.posted
    assert "handle-inbound-message" in alerts[0]["text"] and "cnv_1" in alerts[0]["text"]

    [comment] = world.front.comments
    assert comment["conversation_id"] == "cnv_1"
    body = comment["comment"]["body"]
    assert body.startswith("The agent could not handle this conversation: ")
    assert "the model API is unavailable" in body


@pytest.fixture
def alert_world(clean_db: str, inngest: Any) -> Iterator[World]:
    yield from _world(clean_db, inngest, SLACK_ALERT_CHANNEL=ALERTS)


def test_alert_goes_to_the_alert_channel_when_set(alert_world: World) -> None:
    world = alert_world
    world.claude.fail(529, times=200, retry_after=0.01)
    _deliver(world)
    world.inngest.wait_idle(timeout=120)
    assert [p["channel"] for p in world.slack.posted] == [ALERTS]


def test_a_slack_outage_does_not_stop_the_front_comment(world: World) -> None:
    world.claude.fail(529, times=200, retry_after=0.01)
    world.slack.fail_next("chat.postMessage", 500)
    _deliver(world)
    world.inngest.wait_idle(timeout=120)
    [handler] = world.inngest.runs_for("handle-inbound-message-failure")
    assert handler.status == "completed", handler.error
    assert handler.output["slack"]["posted"] is False
    assert len(world.audit("function.failed")) == 1
    assert len(world.front.comments) == 1


def test_a_failed_action_run_marks_the_action_failed(world: World) -> None:
    """execute-action failing for good (here: its action row is gone, a NonRetriableError) is
    recorded against the action; the conversation comes from the event when the row is gone."""
    world.inngest.send(
        {"name": "support/action.execute", "data": {"actionId": "act_missing"}, "id": "x1"}
    )
    world.inngest.wait_idle(timeout=60)
    [run] = world.inngest.runs_for("execute-action")
    assert run.status == "failed"
    [row] = world.audit("function.failed")
    assert row["action_id"] is None  # no such action: nothing to mark, but still recorded
    assert "act_missing" in str(row["detail"])
    assert len(world.slack.posted) == 1
    assert world.front.comments == []  # no conversation known: no comment


def test_a_request_approval_that_gave_up_takes_the_buttons_away(
    clean_db: str, inngest: Any
) -> None:
    """request-approval failing for good while its request waits in Slack: the request is
    expired (nothing would execute an approval now) and the message loses its buttons."""
    from tests.approval_helpers import approval_row, approval_stack, audit_rows, button_ids

    with approval_stack(clean_db, inngest) as stack:
        action_id = stack.new_request()
        channel, ts = stack.request_approval(action_id)
        assert "approve_action" in button_ids(stack.slack.message(channel, ts))
        stack.inngest.send(
            {
                "name": "inngest/function.failed",
                "id": "failed-1",
                "data": {
                    "function_id": "support-agent-request-approval",
                    "run_id": "run_gave_up",
                    "event": {"data": {"actionId": action_id, "conversationId": "cnv_1"}},
                    "error": {"name": "Error", "message": "Slack kept failing"},
                },
            }
        )
        stack.inngest.wait_idle(timeout=60)
        [handler] = stack.inngest.runs_for("request-approval-failure")
        assert handler.status == "completed", handler.error
        assert handler.output["approval"] == {"expired": True, "redrawn": True}
        assert approval_row(action_id)["status"] == "expired"
        assert button_ids(stack.slack.message(channel, ts)) == {"open_in_front"}  # no decision
        events = [row["event"] for row in audit_rows(action_id)]
        assert "function.failed" in events and "approval.expired" in events
        # a late click is refused, not decided
        stack.click(action_id)
        assert approval_row(action_id)["status"] == "expired"
