"""Recorded payloads (``tests/fixtures/``) replayed through the doors: the Flask app over real HTTP,
with signatures made the way Slack and Front make them."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import httpx

from support.events import InboundReceived, OutboundSent
from tests.fakes.front import signed_webhook
from tests.fakes.slack import signed_event, signed_interaction
from tests.world import (
    APPROVERS,
    FRONT_SECRET,
    INBOX,
    SLACK_SECRET,
    TEAM_ID,
    World,
    approval_row,
    eventually,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str, **values: str) -> dict[str, Any]:
    """A recorded payload with its ``{{placeholders}}`` filled in."""
    text = (FIXTURES / name).read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    assert "{{" not in text, f"{name}: a placeholder is left"
    payload: dict[str, Any] = json.loads(text)
    return payload


# -- Slack ---------------------------------------------------------------------------------------


def test_url_verification_is_answered_with_its_challenge(world: World) -> None:
    payload = load("slack/url_verification.json")
    response = world.post("/slack/events", *signed_event(SLACK_SECRET, payload))
    assert response.status_code == 200
    assert response.json() == {"challenge": payload["challenge"]}


def posted_request(world: World) -> tuple[str, str, str]:
    """A pending request posted to Slack: (action id, channel, message ts)."""
    action_id = world.new_request()
    channel, ts = world.request_approval(action_id)
    return action_id, channel, ts


def recorded_click(world: World, action_id: str, user: str, channel: str, ts: str) -> Any:
    """The recorded block_actions payload: ``user`` clicks Approve on the posted request."""
    return load(
        "slack/block_actions.json",
        user_id=user,
        team_id=TEAM_ID,
        channel_id=channel,
        message_ts=ts,
        response_url=world.slack.response_url(user),
        trigger_id=world.slack.trigger_id(),
        action_id=action_id,
    )


def decided_by_first_approver(
    world: World, action_id: str, payload: dict[str, Any], decision: str
) -> dict[str, Any]:
    """Post the signed interaction: the request is ``decision`` by ``APPROVERS[0]``, in the
    decision event and in its row (returned)."""
    response = world.post("/slack/events", *signed_interaction(SLACK_SECRET, payload))
    assert response.status_code == 200
    [decided] = eventually(lambda: world.decided_events(action_id), what="decision event")
    assert decided["data"]["decision"] == decision
    row = approval_row(action_id)
    assert row["status"] == decision and row["decided_by"] == APPROVERS[0]
    return row


def test_recorded_block_actions_approves_the_request(world: World) -> None:
    action_id, channel, ts = posted_request(world)
    payload = recorded_click(world, action_id, APPROVERS[0], channel, ts)
    posted = world.slack.message(channel, ts)  # the message as Slack has it, with its buttons
    payload["message"] = {**payload["message"], "blocks": posted["blocks"], "text": posted["text"]}
    decided_by_first_approver(world, action_id, payload, "approved")


def test_recorded_block_actions_from_a_stranger_changes_nothing(world: World) -> None:
    action_id, channel, ts = posted_request(world)
    payload = recorded_click(world, action_id, "W0STRANGER", channel, ts)
    response = world.post("/slack/events", *signed_interaction(SLACK_SECRET, payload))
    assert response.status_code == 200
    told = eventually(lambda: world.ephemerals_for("W0STRANGER"), what="ephemeral refusal")
    assert told and approval_row(action_id)["status"] == "pending"
    assert world.decided_events(action_id) == []


def test_recorded_view_submission_rejects_with_the_reason(world: World) -> None:
    action_id = world.new_request()
    world.request_approval(action_id)
    payload = load(
        "slack/view_submission.json",
        user_id=APPROVERS[0],
        team_id=TEAM_ID,
        trigger_id=world.slack.trigger_id(),
        action_id=action_id,
        reason="Not eligible: bought 2 years ago",
    )
    row = decided_by_first_approver(world, action_id, payload, "rejected")
    assert row["reason"] == "Not eligible: bought 2 years ago"


def test_recorded_app_home_opened_publishes_the_home_tab(world: World) -> None:
    action_id = world.new_request()
    world.request_approval(action_id)
    payload = load("slack/app_home_opened.json", user_id=APPROVERS[0], team_id=TEAM_ID)
    response = world.post("/slack/events", *signed_event(SLACK_SECRET, payload))
    assert response.status_code == 200
    [published] = eventually(lambda: world.slack.views_published, what="home published")
    assert published["user_id"] == APPROVERS[0] and published["view"]["type"] == "home"
    assert action_id in json.dumps(published["view"])


def test_a_recorded_payload_with_a_bad_signature_is_refused(world: World) -> None:
    payload = load("slack/url_verification.json")
    body, headers = signed_event("not-the-secret", payload)
    assert world.post("/slack/events", body, headers).status_code == 401


# -- Front ---------------------------------------------------------------------------------------

IDS = {
    "event_id": "evt_55c8c149",
    "conversation_id": "cnv_rec1",
    "message_id": "msg_rec1",
    "inbox_id": INBOX,
    "customer": "jane@example.com",
}


def front_post(world: World, envelope: dict[str, Any], **kw: Any) -> httpx.Response:
    body, headers = signed_webhook(FRONT_SECRET, envelope, **kw)
    return httpx.post(world.url + "/webhooks/front", content=body, headers=headers, timeout=10)


def test_recorded_inbound_received_starts_a_run_that_drafts_a_reply(world: World) -> None:
    world.front.add_conversation(IDS["conversation_id"], INBOX, "Charged twice")
    world.front.add_message(
        IDS["conversation_id"],
        IDS["message_id"],
        text="Hi, I was charged twice for my course.",
        from_email=IDS["customer"],
    )
    world.anthropic.reply_tool_use("draft_response", {"body": "Hi Jane, **we are on it**."})
    world.anthropic.reply_text("done")
    response = front_post(world, load("front/inbound_received.json", **IDS))
    assert response.status_code == 200, response.text
    world.inngest.wait_idle(30)
    [event] = world.inngest.events_named(InboundReceived.NAME)
    assert event["data"]["conversationId"] == IDS["conversation_id"]
    assert event["data"]["messageId"] == IDS["message_id"]
    world.completed("handle-inbound-message")
    [draft] = world.front.drafts
    assert draft["conversation_id"] == IDS["conversation_id"]
    assert "<strong>we are on it</strong>" in draft["request"]["body"]


def test_recorded_outbound_sent_is_forwarded(world: World) -> None:
    response = front_post(world, load("front/outbound_sent.json", **IDS))
    assert response.status_code == 200, response.text
    [event] = world.inngest.events_named(OutboundSent.NAME)
    assert event["data"]["conversationId"] == IDS["conversation_id"]
    assert world.inngest.runs_for("handle-inbound-message") == []


def test_recorded_sync_with_its_challenge_is_echoed(world: World) -> None:
    response = front_post(world, load("front/sync.json"), challenge="front-challenge-8d1f")
    assert response.status_code == 200 and response.text == "front-challenge-8d1f"
    plain = front_post(world, load("front/sync.json"))
    assert plain.status_code == 200 and plain.json()["type"] == "sync"
    assert world.inngest.events == []


def test_recorded_event_of_an_ignored_type_changes_nothing(world: World) -> None:
    response = front_post(world, load("front/tag_added_ignored.json", **IDS))
    assert response.status_code == 200 and response.json()["ignored"] == "tag"
    assert world.inngest.events == [] and world.front.requests == []


def test_a_recorded_front_webhook_with_a_bad_signature_is_refused(world: World) -> None:
    body, headers = signed_webhook("not-the-secret", load("front/inbound_received.json", **IDS))
    response = httpx.post(world.url + "/webhooks/front", content=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert world.inngest.events == []
