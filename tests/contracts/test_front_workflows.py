"""Front's contract as the workflows meet it: draft versions on delete, merged conversations,
rate limits and draft adoption, driven through the app and the Inngest double."""

from __future__ import annotations

import time

from tests.world import World


def auto_send_ready(world: World, suffix: str) -> str:
    """An inbound message answered with a trusted draft; the auto-send run sleeps. Returns the
    conversation id."""
    world.trust()
    world.script_answer("Use **Export**.")
    conversation = f"cnv_{suffix}"
    world.deliver(f"evt_{suffix}", conversation, f"msg_{suffix}", "How do I export my data?")
    world.inngest.wait_idle(30)
    assert world.run("auto-send-draft").status == "sleeping"
    return conversation


def test_auto_send_deletes_the_draft_with_its_current_version(world: World) -> None:
    auto_send_ready(world, "v1")
    [draft] = world.front.drafts
    draft_id = draft["draft"]["id"]
    world.inngest.advance(301)
    world.inngest.wait_idle(30)
    run = world.completed("auto-send-draft")
    assert run.output["sent"] is True and run.output["draftDeletion"]["deleted"] is True
    assert len(world.front.sent) == 1
    [delete] = world.front.calls("DELETE /drafts/*")
    assert delete.path == f"/drafts/{draft_id}" and delete.status == 204
    assert delete.json == {"version": draft["draft"]["version"]}
    assert world.front.deleted_drafts == [draft_id]
    assert [r["status"] for r in world.rows("drafts")] == ["sent"]


def test_auto_send_after_an_edit_in_front_deletes_with_the_new_version(world: World) -> None:
    auto_send_ready(world, "v2")
    [draft] = world.front.drafts
    draft_id = draft["draft"]["id"]
    newer = world.front.edit_draft_in_front(draft_id, "<p>Use <b>Export</b>, edited</p>")
    world.inngest.advance(301)
    world.inngest.wait_idle(30)
    world.completed("auto-send-draft")
    [delete] = world.front.calls("DELETE /drafts/*")
    assert delete.json == {"version": newer} and delete.status == 204
    assert [r["status"] for r in world.rows("drafts")] == ["sent"]


def test_auto_send_delete_failure_retries_the_delete_only(world: World) -> None:
    auto_send_ready(world, "v3")
    world.front.fail_next("DELETE /drafts/*", 503)
    world.inngest.advance(301)
    world.inngest.wait_idle(30)
    world.inngest.advance(60)
    world.inngest.wait_idle(30)
    world.completed("auto-send-draft")
    assert len(world.front.sent) == 1  # the reply went out once
    assert [c.status for c in world.front.calls("DELETE /drafts/*")] == [503, 204]
    assert [r["status"] for r in world.rows("drafts")] == ["sent"]


def test_auto_send_rate_limited_waits_and_sends_once(world: World) -> None:
    auto_send_ready(world, "v4")
    world.front.rate_limit_next("POST /conversations/*/messages", retry_after=20)
    world.inngest.advance(301)
    world.inngest.wait_idle(30)
    run = world.run("auto-send-draft")
    assert run.status == "running" and world.front.sent == []
    retry = [h for h in run.history if h.get("kind") == "retry"]
    assert len(retry) == 1 and 19 <= retry[0]["delay"] <= 21
    assert [r["status"] for r in world.rows("drafts")] == ["created"]  # claim released
    world.inngest.advance(21)
    world.inngest.wait_idle(30)
    run = world.completed("auto-send-draft")
    assert len(world.front.sent) == 1
    assert [r["status"] for r in world.rows("drafts")] == ["sent"]


def test_merged_conversation_gets_its_draft_and_its_reply(world: World) -> None:
    """The webhook names a conversation that Front has merged into another: every write is
    answered 301 and must land on the conversation it was merged into, as the same POST."""
    world.front.add_conversation("cnv_into", "inb_acme", "Help")
    auto_send_ready_merged(world)
    world.inngest.advance(301)
    world.inngest.wait_idle(30)
    world.completed("auto-send-draft")

    [draft] = world.front.drafts
    assert draft["conversation_id"] == "cnv_into"
    [sent] = world.front.sent
    assert sent["conversation_id"] == "cnv_into" and sent["message_uid"]
    assert "<strong>Export</strong>" in sent["request"]["body"]
    assert world.front.deleted_drafts == [draft["draft"]["id"]]
    for path in ("/conversations/*/drafts", "/conversations/*/messages"):
        assert_resent_as_the_same_post(world, path)
    assert not world.front.calls("GET /conversations/cnv_into/drafts")
    assert [r["status"] for r in world.rows("drafts")] == ["sent"]


def auto_send_ready_merged(world: World) -> None:
    world.trust()
    world.script_answer("Use **Export**.")
    world.deliver("evt_mg1", "cnv_merged", "msg_mg1", "How do I export my data?")
    world.front.merge_conversation("cnv_merged", "cnv_into")
    world.inngest.wait_idle(30)
    assert world.run("handle-inbound-message").status == "completed"


def assert_resent_as_the_same_post(world: World, path: str) -> None:
    posts = world.front.calls(f"POST {path}")
    assert [(p.path.split("/")[2], p.status) for p in posts] == [
        ("cnv_merged", 301),
        ("cnv_into", posts[1].status),
    ]
    assert posts[1].status in (200, 201, 202) and posts[0].json == posts[1].json


def test_merged_conversation_gets_its_escalation_comment(world: World) -> None:
    world.front.add_conversation("cnv_into", "inb_acme", "Help")
    world.anthropic.reply_tool_use("escalate_to_human", {"reason": "VIP", "urgency": "high"})
    world.anthropic.reply_text("done")
    world.deliver("evt_mg2", "cnv_merged", "msg_mg2", "I want to talk to a person")
    world.front.merge_conversation("cnv_merged", "cnv_into")
    world.inngest.wait_idle(30)
    run = world.completed("handle-inbound-message")
    assert run.output["execution"]["status"] == "succeeded"
    [comment] = world.front.comments
    assert comment["conversation_id"] == "cnv_into" and "VIP" in comment["request"]["body"]
    assert run.output["execution"]["result"]["commentId"] == comment["comment"]["id"]
    assert_resent_as_the_same_post(world, "/conversations/*/comments")


def test_front_429_on_the_draft_waits_until_front_resets_the_window(world: World) -> None:
    """A 429 without Retry-After (X-RateLimit-Reset only) still retries the step after Front's
    delay, not at once and not as a failure."""
    world.anthropic.reply_tool_use("draft_response", {"body": "Hello"})
    world.anthropic.reply_text("done")
    before = time.time()
    world.front.rate_limit_next("POST /conversations/*/drafts", retry_after=None, reset_in=40)
    world.deliver("evt_rl1", "cnv_rl1", "msg_rl1", "Where is my invoice?")
    world.inngest.wait_idle(30)
    run = world.run("handle-inbound-message")
    assert run.status == "running" and world.front.drafts == []
    [limited] = world.front.calls("POST /conversations/*/drafts")
    assert limited.status == 429
    # the window resets at int(before + 40): the step waits from the 429 until then
    [retry] = [h for h in run.history if h.get("kind") == "retry"]
    until_reset = before + 40 - limited.at
    assert until_reset - 2 <= retry["delay"] <= until_reset + 1
    world.inngest.advance(41)
    world.inngest.wait_idle(30)
    run = world.completed("handle-inbound-message")
    assert len(world.front.drafts) == 1
