"""Failures nobody saw (issue 10, item 7): a run that exhausts its retries is recorded and shown
to a person, through Inngest's ``on_failure`` (``inngest/function.failed``), over real HTTP
against the Inngest double and the loopback fakes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.world import (
    APPROVAL_CHANNEL,
    World,
    approval_row,
    audit_rows,
    button_ids,
    open_world,
)

ALERTS = "C0ALERTS"


def failed_rows(world: World) -> list[dict[str, Any]]:
    """The audit rows the failure handlers wrote."""
    return [r for r in world.audit_rows() if r["event"] == "function.failed"]


def _deliver(world: World) -> None:
    world.deliver(
        "evt_1", "cnv_1", "msg_1", "I was charged twice", "customer@example.com", "Refund"
    )


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
    world.anthropic.fail(529, times=200, retry_after=0.01)
    _deliver(world)
    world.inngest.wait_idle(timeout=120)

    [run] = world.inngest.runs_for("handle-inbound-message")
    assert run.status == "failed"
    assert len([a for a in run.attempts if a["target"] == "step"]) >= 5  # it used its retries
    [failed] = [e for e in world.inngest.internal_events if e["name"] == "inngest/function.failed"]
    assert failed["data"]["run_id"] == run.run_id
    [handler] = world.inngest.runs_for("handle-inbound-message-failure")
    assert handler.status == "completed", handler.error

    [row] = failed_rows(world)
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
    with open_world(clean_db, inngest=inngest, SLACK_ALERT_CHANNEL=ALERTS) as world:
        yield world


def test_alert_goes_to_the_alert_channel_when_set(alert_world: World) -> None:
    world = alert_world
    world.anthropic.fail(529, times=200, retry_after=0.01)
    _deliver(world)
    world.inngest.wait_idle(timeout=120)
    assert [p["channel"] for p in world.slack.posted] == [ALERTS]


def test_a_slack_outage_does_not_stop_the_front_comment(world: World) -> None:
    world.anthropic.fail(529, times=200, retry_after=0.01)
    world.slack.fail_next("chat.postMessage", 500)
    _deliver(world)
    world.inngest.wait_idle(timeout=120)
    [handler] = world.inngest.runs_for("handle-inbound-message-failure")
    assert handler.status == "completed", handler.error
    assert handler.output["slack"]["posted"] is False
    assert len(failed_rows(world)) == 1
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
    [row] = failed_rows(world)
    assert row["action_id"] is None  # no such action: nothing to mark, but still recorded
    assert "act_missing" in str(row["detail"])
    assert len(world.slack.posted) == 1
    assert world.front.comments == []  # no conversation known: no comment


def test_a_request_approval_that_gave_up_takes_the_buttons_away(world: World) -> None:
    """request-approval failing for good while its request waits in Slack: the request is
    expired (nothing would execute an approval now) and the message loses its buttons."""
    action_id = world.new_request()
    channel, ts = world.request_approval(action_id)
    assert "approve_action" in button_ids(world.slack.message(channel, ts))
    world.inngest.send(
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
    world.inngest.wait_idle(timeout=60)
    [handler] = world.inngest.runs_for("request-approval-failure")
    assert handler.status == "completed", handler.error
    assert handler.output["approval"] == {"expired": True, "redrawn": True}
    assert approval_row(action_id)["status"] == "expired"
    assert button_ids(world.slack.message(channel, ts)) == {"open_in_front"}  # no decision
    events = [row["event"] for row in audit_rows(action_id)]
    assert "function.failed" in events and "approval.expired" in events
    # a late click is refused, not decided
    world.click(action_id)
    assert approval_row(action_id)["status"] == "expired"
