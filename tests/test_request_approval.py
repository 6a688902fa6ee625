"""request-approval end to end: Slack message, wait, decision from the database, execution, expiry.

Over real HTTP: the app (Bolt signature check on) with the Inngest double, the Slack fake and the
integration fake; on SQLite and MariaDB.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from slack import messages
from support import approvals
from support.db.models import utcnow
from support.workflows.reconcile_decisions import resend_id
from support.workflows.request_approval import retry_after_seconds
from tests.world import (
    APPROVAL_CHANNEL,
    APPROVERS,
    World,
    approval_row,
    audit_rows,
    button_ids,
    eventually,
)

HOUR = 3600.0


def test_request_is_posted_with_buttons_and_the_run_waits(world: World) -> None:
    action_id = world.new_request()
    channel, ts = world.request_approval(action_id)
    assert channel == APPROVAL_CHANNEL
    message = world.slack.message(channel, ts)
    assert button_ids(message) == {
        "approve_action",
        "reject_action",
        "edit_action",
        "open_in_front",
    }
    [run] = world.inngest.runs_for("request-approval")
    assert run.status == "waiting"
    assert run.pending["event"] == "support/approval.decided"
    assert run.pending["if"] == "event.data.actionId == async.data.actionId"
    assert "approval.posted" in [a["event"] for a in audit_rows(action_id)]
    # The same request event again starts nothing (idempotency on the action id).
    world.inngest.send({**world.request_event(action_id), "id": "another-id"})
    world.inngest.wait_idle()
    assert len(world.inngest.runs_for("request-approval")) == 1
    assert len(world.slack.posted) == 1


def test_approve_resumes_the_run_and_executes_once(world: World) -> None:
    action_id = world.new_request()
    world.request_approval(action_id)

    response = world.click(action_id)
    assert response.status_code == 200
    [decided] = eventually(lambda: world.decided_events(action_id), what="decision event")
    assert decided["id"] == f"approval-decided-{action_id}"
    assert decided["data"]["decision"] == "approved"
    assert decided["data"]["decidedBy"] == APPROVERS[0]
    eventually(lambda: world.inngest.events_named("action/approved"), what="action/approved")

    [run] = eventually(lambda: world.finished("request-approval"), what="run finished")
    assert run.status == "completed"
    assert run.output["execution"] == "succeeded"
    assert len(world.inngest.runs_for("execute-action")) == 1
    assert len(world.integration.refunds) == 1
    row = approval_row(action_id)
    assert row["status"] == "approved" and row["action_status"] == "succeeded"
    assert row["resolved_at"] is not None

    message = world.slack_message(action_id)
    assert button_ids(message) == {"open_in_front"}
    text = str(message["blocks"])
    assert f"Approved by <@{APPROVERS[0]}>" in text
    assert "Executed successfully" in text and world.integration.refunds[0]["refund_id"] in text
    events = [(a["event"], a["actor"]) for a in audit_rows(action_id)]
    assert ("approval.approved", APPROVERS[0]) in events
    assert ("action.succeeded", "executor") in events


def test_failed_execution_shows_as_failed(world: World) -> None:
    action_id = world.new_request(
        parameters={"purchase_id": "pur_unknown", "amount": 100, "reason": "x"}
    )
    world.request_approval(action_id)
    world.click(action_id)
    [run] = eventually(lambda: world.finished("request-approval"), what="run finished")
    assert run.output["execution"] == "failed"
    row = approval_row(action_id)
    assert row["action_status"] == "failed" and row["error"]
    text = str(world.slack_message(action_id)["blocks"])
    assert "Execution failed" in text
    assert "Executed successfully" not in text
    assert button_ids(world.slack_message(action_id)) == {"open_in_front"}


def test_timeout_expires_the_request_reminds_first_and_tells_late_clickers(world: World) -> None:
    action_id = world.new_request()
    channel, ts = world.request_approval(action_id)

    world.inngest.advance(20 * HOUR + 1)  # default: remind 4 h before the 24 h expiry
    [reminder] = [p for p in world.slack.posted if p.get("thread_ts") == ts]
    assert all(f"<@{a}>" in reminder["text"] for a in APPROVERS)
    assert approval_row(action_id)["reminded_at"] is not None
    assert approval_row(action_id)["status"] == "pending"

    world.inngest.advance(4 * HOUR)
    [run] = world.finished("request-approval")
    assert run.output["status"] == "expired"
    row = approval_row(action_id)
    assert row["status"] == "expired" and row["action_status"] == "expired"
    message = world.slack.message(channel, ts)
    assert button_ids(message) == {"open_in_front"}
    assert "Expired, no action taken" in str(message["blocks"])
    assert "approval.expired" in [a["event"] for a in audit_rows(action_id)]

    assert world.click(action_id).status_code == 200
    eventually(lambda: world.ephemerals_for(APPROVERS[0]), what="late click told")
    assert "expired" in world.ephemerals_for(APPROVERS[0])[0]
    assert world.decided_events(action_id) == []
    assert world.inngest.runs_for("execute-action") == []


def test_decision_made_before_the_wait_was_registered_is_executed(world: World) -> None:
    """The approver clicks while post-to-slack is still running: the wait is not registered yet,
    so the decision event cannot resume it; the run reads the row before waiting."""
    action_id = world.new_request()
    world.slack.slow_next("chat.postMessage", 1.5)  # posted at once, answered late
    world.inngest.send(world.request_event(action_id))
    message = eventually(lambda: world.slack.posted, what="message posted")[0]
    assert message["channel"] == APPROVAL_CHANNEL
    assert world.inngest.runs_for("request-approval")[0].status == "running"

    assert world.click(action_id).status_code == 200  # before the step returned
    eventually(lambda: world.decided_events(action_id), what="decision event")
    [run] = eventually(lambda: world.finished("request-approval"), what="run finished")
    assert run.output["execution"] == "succeeded"
    assert "WaitForEvent" not in run.ops
    assert len(world.integration.refunds) == 1
    assert "Executed successfully" in str(world.slack_message(action_id)["blocks"])


def test_reconciler_resends_a_decision_the_run_never_heard(world: World) -> None:
    """The decision is in the database but its event never reached the waiting run (the send
    failed after the commit). An event with the click's deterministic id was already seen, so the
    reconciler must re-send with another id, or Inngest would drop it as a duplicate."""
    action_id = world.new_request()
    world.inngest.send({"name": "test/other", "data": {}, "id": f"approval-decided-{action_id}"})
    world.request_approval(action_id)

    five_minutes_ago = utcnow() - dt.timedelta(minutes=5)
    assert approvals.decide(action_id, "approved", APPROVERS[1], now=five_minutes_ago).won
    world.inngest.advance(60)
    assert world.inngest.runs_for("request-approval")[0].status == "waiting"

    cron = world.inngest.trigger_cron("reconcile-decisions")
    world.inngest.wait_idle()
    [resent] = world.decided_events(action_id)
    assert resent["id"] == resend_id(action_id, cron.run_id)
    assert resent["data"]["decidedBy"] == APPROVERS[1]
    [run] = eventually(lambda: world.finished("request-approval"), what="run finished")
    assert run.output["execution"] == "succeeded"
    assert len(world.integration.refunds) == 1
    assert approval_row(action_id)["resolved_at"] is not None

    world.inngest.trigger_cron("reconcile-decisions")  # resolved: nothing more to send
    world.inngest.wait_idle()
    assert len(world.decided_events(action_id)) == 1


def test_reject_with_reason_reaches_the_audit_log_and_the_revised_draft(world: World) -> None:
    action_id = world.new_request()
    world.anthropic.reply_tool_use(
        "draft_response", {"body": "Sorry Jane, this is outside the refund window."}
    )
    world.anthropic.reply_text("Revised.")
    world.request_approval(action_id)
    world.click(action_id, "reject_action")
    [opened] = eventually(lambda: world.slack.views_opened, what="reason modal")
    assert opened["view"]["callback_id"] == "reject_reason"

    empty = world.submit_reject(action_id, "  ")
    assert empty.status_code == 200
    assert empty.json()["response_action"] == "errors"
    assert "reason" in empty.json()["errors"]

    assert world.submit_reject(action_id, "Outside the refund window").status_code == 200
    [decided] = eventually(lambda: world.decided_events(action_id), what="decision event")
    assert decided["data"]["decision"] == "rejected"
    assert decided["data"]["reason"] == "Outside the refund window"
    eventually(lambda: world.inngest.events_named("action/rejected"), what="action/rejected")
    [run] = eventually(lambda: world.finished("request-approval"), what="run finished")
    assert run.output["status"] == "rejected"
    [revise] = world.inngest.runs_for("revise-draft")
    assert revise.event["data"]["reason"] == "Outside the refund window"
    assert revise.status == "completed", revise.error
    assert "Outside the refund window" in str(world.anthropic.requests[0].json)  # the model saw it
    [draft] = world.front.drafts
    assert "outside the refund window" in str(draft)
    assert world.inngest.runs_for("execute-action") == []
    assert world.integration.refunds == []
    entry = next(a for a in audit_rows(action_id) if a["event"] == "approval.rejected")
    assert entry["detail"]["reason"] == "Outside the refund window"
    assert entry["actor"] == APPROVERS[0]
    assert "Rejected by" in str(world.slack_message(action_id)["blocks"])


def test_the_revising_agent_may_read_the_account_owner_s_account(world: World) -> None:
    """revise-draft names the action's account owner as the sender: the agent's account tools
    answer for that customer instead of being refused."""
    world.integration.add_user("jane@example.com")
    action_id = world.new_request()
    world.anthropic.reply_tool_use("lookup_user", {"email": "jane@example.com"})
    world.anthropic.reply_tool_use("draft_response", {"body": "Sorry Jane, no refund this time."})
    world.anthropic.reply_text("Revised.")
    world.request_approval(action_id)
    world.click(action_id, "reject_action")
    eventually(lambda: world.slack.views_opened, what="reason modal")
    assert world.submit_reject(action_id, "Outside the refund window").status_code == 200
    [revise] = eventually(lambda: world.finished("revise-draft"), what="revision finished")
    assert revise.status == "completed", revise.error
    assert [c.json["email"] for c in world.integration.calls("lookup-user")] == ["jane@example.com"]
    tool_result = world.anthropic.requests[1].json["messages"][2]["content"][0]
    assert tool_result["type"] == "tool_result" and not tool_result.get("is_error")
    [draft] = world.front.drafts
    assert "no refund this time" in str(draft)


def test_retried_post_adopts_the_message_slack_applied_but_answered_late(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chat.postMessage is applied at once but answered after the client's timeout (10 s; 1 s
    here, the app runs in this process): the step fails and is retried. Once, the retry posted a
    second message, whose twin kept live buttons after the decision. Now the retry finds the first
    one (its metadata names the action) and adopts it."""
    monkeypatch.setattr(messages, "TIMEOUT_SECONDS", 1)
    action_id = world.new_request()
    world.slack.slow_next("chat.postMessage", 2.0)  # longer than the app's client timeout
    world.inngest.send(world.request_event(action_id))
    world.inngest.wait_idle(timeout=60)

    [posted] = world.slack.posted
    assert posted["metadata"] == {
        "event_type": "approval_request",
        "event_payload": {"action_id": action_id},
    }
    [(channel, ts)] = list(world.slack.messages)
    row = approval_row(action_id)
    assert (row["slack_channel"], row["slack_ts"]) == (channel, ts)
    [run] = world.inngest.runs_for("request-approval")
    assert run.status == "waiting"
    entry = next(a for a in audit_rows(action_id) if a["event"] == "approval.posted")
    assert entry["detail"]["adopted"] is True
    history = [r for r in world.slack.requests if r.path == "/api/conversations.history"]
    assert history, "the retry did not look before posting"

    assert world.click(action_id).status_code == 200
    eventually(lambda: world.finished("request-approval"), what="run finished")
    live = [m for m in world.slack.messages.values() if "approve_action" in str(m["blocks"])]
    assert live == []


def test_first_post_does_not_read_the_channel(world: World) -> None:
    action_id = world.new_request()
    world.request_approval(action_id)
    assert [r for r in world.slack.requests if r.path == "/api/conversations.history"] == []
    entry = next(a for a in audit_rows(action_id) if a["event"] == "approval.posted")
    assert entry["detail"]["adopted"] is False


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3),
        ({"retry-after": "7"}, 7),  # HTTP/2 and many proxies send lower-case names
        ({"RETRY-AFTER": ["5"]}, 5),
        ({}, 1),
        ({"retry-after": "soon"}, 1),
        ({"retry-after": "²"}, 1),
    ],
)
def test_retry_after_is_read_whatever_its_case(headers: dict[str, Any], seconds: int) -> None:
    assert retry_after_seconds(headers) == seconds


def test_slack_fake_history_is_like_slacks() -> None:
    """conversations.history in the fake: newest first, metadata only on request, no thread
    replies, ``oldest`` exclusive, cursor pages (what find_posted relies on)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from tests.fakes.slack import SlackFake

    with SlackFake("xoxb-t") as slack:
        client = WebClient(token="xoxb-t", base_url=slack.url + "/api/")
        meta = {"event_type": "approval_request", "event_payload": {"action_id": "act_1"}}
        first = client.chat_postMessage(channel="C1", text="one", metadata=meta)["ts"]
        client.chat_postMessage(channel="C1", text="reply", thread_ts=first)
        second = client.chat_postMessage(channel="C1", text="two")["ts"]
        client.chat_postMessage(channel="C2", text="elsewhere")

        plain = client.conversations_history(channel="C1")
        assert [m["ts"] for m in plain["messages"]] == [second, first]
        assert all("metadata" not in m for m in plain["messages"])
        full = client.conversations_history(channel="C1", include_all_metadata=True)
        assert full["messages"][1]["metadata"] == meta
        after = client.conversations_history(channel="C1", oldest=first)
        assert [m["ts"] for m in after["messages"]] == [second]
        page = client.conversations_history(channel="C1", limit=1)
        assert page["has_more"] and page["response_metadata"]["next_cursor"]
        rest = client.conversations_history(
            channel="C1", limit=1, cursor=page["response_metadata"]["next_cursor"]
        )
        assert [m["ts"] for m in rest["messages"]] == [first] and not rest["has_more"]
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C1", text="x", metadata={"event_type": 1})
        assert refused.value.response["error"] == "invalid_metadata_format"


def test_retry_without_history_scope_still_posts_the_request(world: World) -> None:
    """An install that lacks channels:history (Slack answers ``missing_scope``): the retried
    post cannot look for an orphan, and posts anyway: a request nobody sees is worse."""
    action_id = world.new_request()
    world.slack.fail_next("chat.postMessage", 500)  # first attempt fails: the step is retried
    world.slack.error_next("conversations.history", "missing_scope")
    world.inngest.send(world.request_event(action_id))
    world.inngest.wait_idle(timeout=60)

    history = [r for r in world.slack.requests if r.path == "/api/conversations.history"]
    assert len(history) == 1
    [(channel, ts)] = list(world.slack.messages)
    row = approval_row(action_id)
    assert (row["slack_channel"], row["slack_ts"]) == (channel, ts)
    [run] = world.inngest.runs_for("request-approval")
    assert run.status == "waiting"
