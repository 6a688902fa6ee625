"""Front's contract as the workflows meet it: draft versions on delete, merged conversations,
rate limits and draft adoption, driven through the app and the Inngest double."""

from __future__ import annotations

from tests.test_workflow_inbound import World, script_confident_answer, trust


def auto_send_ready(world: World, suffix: str) -> str:
    """An inbound message answered with a trusted draft; the auto-send run sleeps. Returns the
    conversation id."""
    trust(world)
    script_confident_answer(world)
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
    run = world.run("auto-send-draft")
    assert run.status == "completed", run.error
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
    run = world.run("auto-send-draft")
    assert run.status == "completed", run.error
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
    run = world.run("auto-send-draft")
    assert run.status == "completed", run.error
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
    run = world.run("auto-send-draft")
    assert run.status == "completed", run.error
    assert len(world.front.sent) == 1
    assert [r["status"] for r in world.rows("drafts")] == ["sent"]
