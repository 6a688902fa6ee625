"""The product end to end: Front webhook -> agent -> Slack approval -> execution -> Front draft.

The app runs under gunicorn (production config) against SQLite and MariaDB; everything it talks to
is a loopback fake or the Inngest double in this process. Each scenario asserts outcomes in the
outside world (refunds in the product app, drafts in Front, the Slack message) and in the database.
"""

from __future__ import annotations

import json

from tests.fakes.front import inbound_event, signed_webhook
from tests.scenarios import password_question_drafted
from tests.world import (
    APPROVAL_CHANNEL,
    APPROVERS,
    CHANNEL,
    CUSTOMER,
    FRONT_SECRET,
    World,
    button_ids,
    eventually,
    render_blocks,
)

HOUR = 3600.0


def test_approved_refund_is_executed_once_drafted_and_shown_in_slack(world: World) -> None:
    action_id = world.propose_refund("evt_ap1", "cnv_ap1")
    [posted] = world.slack.posted
    assert posted["channel"] == APPROVAL_CHANNEL
    pending = world.slack_message(action_id)
    assert button_ids(pending) == {
        "approve_action",
        "reject_action",
        "edit_action",
        "open_in_front",
    }
    assert world.integration.refunds == [] and world.front.drafts == []
    assert world.run("request-approval").status == "waiting"

    response = world.click(action_id)
    assert response.status_code == 200
    [decided] = eventually(lambda: world.decided_events(action_id), what="decision event")
    assert decided["data"]["decision"] == "approved"
    assert decided["data"]["decidedBy"] == APPROVERS[0]
    world.settle()

    run = world.completed("request-approval")
    assert run.output == {"actionId": action_id, "status": "approved", "execution": "succeeded"}
    # the product app refunded once, keyed by the action id
    [refund] = world.integration.refunds
    assert refund["idempotency_key"] == action_id
    assert len(world.integration.calls("revoke-access")) == 1
    [completed] = world.inngest.events_named("stripe/refund.completed")
    assert completed["data"]["refundId"] == refund["refund_id"]
    # the agent's reply became a Front draft on the conversation's channel
    [draft] = world.front.drafts
    assert draft["conversation_id"] == "cnv_ap1" and draft["channel_id"] == CHANNEL
    assert "<strong>we are on it</strong>" in draft["request"]["body"]
    # the Slack message shows who approved and the refund id, without buttons
    message = world.slack_message(action_id)
    assert button_ids(message) == {"open_in_front"}
    text = "\n".join(render_blocks(message["blocks"]))
    assert f"Approved by @{APPROVERS[0]}" in text
    assert "Executed successfully" in text and refund["refund_id"] in text
    # the database agrees
    assert world.approval(action_id)["status"] == "approved"
    action = world.action(action_id)
    assert action["status"] == "succeeded" and action["executed_at"] is not None
    audit = world.audit(action_id)
    assert ("approval.approved", APPROVERS[0]) in audit
    assert ("action.succeeded", "executor") in audit
    assert len(world.inngest.runs_for("execute-action")) == 1

    # a second click is told it is already decided; nothing runs again
    assert world.click(action_id, user=APPROVERS[1]).status_code == 200
    eventually(
        lambda: [e for e in world.slack.ephemerals if e["user"] == APPROVERS[1]],
        what="ephemeral for the late click",
    )
    world.settle()
    assert len(world.integration.refunds) == 1
    assert len(world.inngest.runs_for("execute-action")) == 1


def test_rejected_with_a_reason_gets_a_revised_draft(world: World) -> None:
    action_id = world.propose_refund("evt_rj1", "cnv_rj1")
    model_calls = len(world.anthropic.bodies)
    world.anthropic.reply_tool_use(
        "draft_response",
        {
            "body": "Hi Jane, your purchase is outside the 30-day refund window, so we "
            "extended your access instead.",
            "category": "refund",
        },
    )
    world.anthropic.reply_text("Revised after the rejection.")

    assert world.click(action_id, "reject_action").status_code == 200
    [modal] = eventually(lambda: world.slack.views_opened, what="the reason modal")
    assert modal["view"]["callback_id"] == "reject_reason"
    reason = "Outside the 30-day refund window; offer an access extension"
    assert world.submit_reject(action_id, reason).status_code == 200
    eventually(lambda: world.decided_events(action_id), what="decision event")
    world.settle()

    run = world.run("request-approval")
    assert run.status == "completed" and run.output["status"] == "rejected", run.error
    world.completed("revise-draft")
    # the model was asked again, with the approver's reason
    revision_request = world.anthropic.bodies[model_calls]
    assert reason in json.dumps(revision_request)
    # a new Front draft carries the revised reply; nothing was refunded
    [draft] = world.front.drafts
    assert draft["conversation_id"] == "cnv_rj1"
    assert "outside the 30-day refund window" in draft["request"]["body"]
    assert world.integration.refunds == []
    assert world.inngest.runs_for("execute-action") == []
    row = world.approval(action_id)
    assert row["status"] == "rejected" and row["reason"] == reason
    text = "\n".join(render_blocks(world.slack_message(action_id)["blocks"]))
    assert f"Rejected by @{APPROVERS[0]}" in text and reason in text
    assert button_ids(world.slack_message(action_id)) == {"open_in_front"}
    assert ("draft.revised", "agent") in world.audit(action_id)


def test_unanswered_request_expires_after_24_hours(world: World) -> None:
    action_id = world.propose_refund("evt_ex1", "cnv_ex1")
    world.inngest.advance(23 * HOUR)
    assert world.approval(action_id)["status"] == "pending"
    assert world.run("request-approval").status == "waiting"

    world.inngest.advance(1 * HOUR + 1)
    run = world.run("request-approval")
    assert run.status == "completed" and run.output["status"] == "expired", run.error
    row = world.approval(action_id)
    assert row["status"] == "expired"
    assert world.action(action_id)["status"] == "expired"
    message = world.slack_message(action_id)
    assert button_ids(message) == {"open_in_front"}  # no Approve / Reject / Edit left
    assert "Expired, no action taken" in "\n".join(render_blocks(message["blocks"]))
    # the reminder went to the thread before the expiry
    threaded = [p for p in world.slack.posted if p.get("thread_ts") == row["slack_ts"]]
    assert len(threaded) == 1
    # nothing executed, no reply drafted; a late click changes nothing
    assert world.integration.refunds == [] and world.front.drafts == []
    assert world.inngest.runs_for("execute-action") == []
    assert world.click(action_id).status_code == 200
    eventually(lambda: world.slack.ephemerals, what="late click told")
    assert "expired" in world.slack.ephemerals[0]["text"]
    world.settle()
    assert world.decided_events(action_id) == []
    assert world.integration.refunds == []


def test_plain_question_gets_a_draft_and_no_approval(world: World) -> None:
    password_question_drafted(world, confidence=0.8)
    assert world.inngest.runs_for("request-approval") == []
    assert world.slack.posted == []
    assert world.rows("approval_requests") == []
    assert world.front.sent == []


def test_trusted_draft_is_sent_after_five_quiet_minutes(world: World) -> None:
    world.trust("how_to")
    world.script_answer()
    world.deliver("evt_as1", "cnv_as1", "msg_as1", "How do I export my data?")
    world.settle()
    assert world.run("auto-send-draft").status == "sleeping"
    world.inngest.advance(4 * 60)
    assert world.front.sent == []
    world.inngest.advance(61)
    assert world.run("auto-send-draft").status == "completed"
    [sent] = world.front.sent
    assert "<strong>Export</strong>" in sent["request"]["body"]
    assert [r["status"] for r in world.rows("drafts")] == ["sent"]


def test_new_customer_message_cancels_the_auto_send(world: World) -> None:
    world.trust("how_to")
    world.script_answer()
    world.deliver("evt_ac1", "cnv_ac1", "msg_ac1", "How do I export my data?")
    world.settle()
    [scheduled] = world.inngest.events_named("support/draft.auto_send")
    assert scheduled["data"]["conversationId"] == "cnv_ac1"
    assert world.run("auto-send-draft").status == "sleeping"

    world.inngest.advance(60)
    world.anthropic.responder = lambda body: {
        "content": [{"type": "text", "text": "Waiting for the customer's follow-up."}],
        "stop_reason": "end_turn",
    }
    world.deliver("evt_ac2", "cnv_ac1", "msg_ac2", "Also, can I export to CSV?")
    world.settle()
    run = world.run("auto-send-draft")
    assert run.status == "cancelled"
    world.inngest.advance(10 * 60)
    assert world.front.sent == []
    assert [r["status"] for r in world.rows("drafts")] == ["created"]  # left for a human
    assert len(world.inngest.runs_for("handle-inbound-message")) == 2


def test_edited_then_approved_refunds_the_edited_amount_with_the_edited_reply(
    world: World,
) -> None:
    action_id = world.propose_refund("evt_ed1", "cnv_ed1")
    assert world.click(action_id, "edit_action").status_code == 200
    [modal] = eventually(lambda: world.slack.views_opened, what="the edit modal")
    assert modal["view"]["callback_id"] == "edit_action_submit"
    edited = "Hi Jane, we refunded **25.00 USD** (one of the two charges)."
    assert world.submit_edit(action_id, "2500", edited).status_code == 200
    [decided] = eventually(lambda: world.decided_events(action_id), what="decision event")
    assert decided["data"]["decision"] == "approved"
    world.settle()

    assert world.run("request-approval").output["execution"] == "succeeded"
    [refund] = world.integration.refunds
    assert refund["amount"] == 2500 and refund["idempotency_key"] == action_id
    [draft] = world.front.drafts
    assert "<strong>25.00 USD</strong>" in draft["request"]["body"]
    text = "\n".join(render_blocks(world.slack_message(action_id)["blocks"]))
    assert "with edits" in text and refund["refund_id"] in text


def test_front_delivering_the_same_webhook_twice_starts_one_run(world: World) -> None:
    world.script_answer(confidence=0.5)
    world.front.add_conversation("cnv_dup", "inb_acme")
    world.front.add_message("cnv_dup", "msg_dup", text="How do I export my data?")
    body, headers = signed_webhook(
        FRONT_SECRET,
        inbound_event(
            "evt_dup", "cnv_dup", "inb_acme", "msg_dup", CUSTOMER, "Help", "How do I export?"
        ),
    )
    for _ in range(2):  # Front retries a delivery it thinks failed
        assert world.post("/webhooks/front", body, headers).status_code == 200
    world.settle()
    assert len(world.inngest.runs_for("handle-inbound-message")) == 1
    assert len(world.front.drafts) == 1
