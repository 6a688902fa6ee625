"""Faults of the outside world, each in its own test, with the app under gunicorn (SQLite, MariaDB).

What each proves: the failing call is retried by the layer that owns it (the client library or the
Inngest step), the side effect happens exactly once, and the flow ends where it would have ended
without the fault. The MariaDB restart lives in ``test_zz_mariadb_restart.py`` (it runs last).
"""

from __future__ import annotations

from typing import Any

from tests.fakes.inngest_double import Run
from tests.world import (
    APPROVAL_CHANNEL,
    INTEGRATION_TIMEOUT,
    World,
    eventually,
    render_blocks,
)


def retries(run: Run) -> list[dict[str, Any]]:
    """The attempts the double repeated for ``run`` (function errors and step errors)."""
    return [h for h in run.history if h.get("kind") == "retry" or h.get("op") == "StepError"]


def held_until_retry_after(world: World, function: str, seconds: int = 30) -> Run:
    """Settle: ``function``'s run is still running, its one retry due after the vendor's
    Retry-After (``seconds``), not at once."""
    world.settle()
    run = world.run(function)
    assert run.status == "running"
    [retry] = retries(run)
    assert seconds - 1 <= retry["delay"] <= seconds + 1
    return run


def approve_and_settle(world: World, action_id: str) -> Run:
    assert world.click(action_id).status_code == 200
    eventually(lambda: world.decided_events(action_id), what="decision event")
    world.settle()
    return world.run("request-approval")


def test_slack_500_on_post_message_is_retried_and_posts_once(world: World) -> None:
    world.slack.fail_next("chat.postMessage", 500)
    action_id = world.propose_refund("evt_sf1", "cnv_sf1")

    attempts = world.slack.calls("chat.postMessage")
    assert [a.status for a in attempts] == [500, 200]  # the step ran again
    [posted] = world.slack.posted  # one message in the channel
    assert posted["channel"] == APPROVAL_CHANNEL
    run = world.run("request-approval")
    assert run.status == "waiting" and len(retries(run)) == 1
    assert world.approval(action_id)["slack_ts"] == list(world.slack.messages)[0][1]
    assert [e for e, _ in world.audit(action_id)].count("approval.posted") == 1

    run = approve_and_settle(world, action_id)
    assert run.output["execution"] == "succeeded"
    assert len(world.integration.refunds) == 1
    assert len(world.slack.posted) == 1


def test_slack_429_on_post_message_waits_for_retry_after(world: World) -> None:
    world.slack.rate_limit_next("chat.postMessage", retry_after=30)
    purchase_id = world.seed_customer()
    world.script_refund(purchase_id)
    world.deliver("evt_sl1", "cnv_sl1", "msg_sl1", "I was charged twice, please refund me.")
    held_until_retry_after(world, "request-approval")
    assert world.slack.posted == []
    world.inngest.advance(31)
    assert world.run("request-approval").status == "waiting"
    assert len(world.slack.posted) == 1


def test_front_429_waits_for_retry_after_then_drafts_once(world: World) -> None:
    world.script_answer(confidence=0.5)
    world.front.rate_limit_next("POST /conversations/*/drafts", retry_after=30)
    world.deliver("evt_fl1", "cnv_fl1", "msg_fl1", "How do I export my data?")
    held_until_retry_after(world, "handle-inbound-message")
    assert world.front.drafts == []
    world.inngest.advance(25)
    assert world.front.drafts == []  # not before retry-after has passed
    world.inngest.advance(6)
    run = world.completed("handle-inbound-message")
    assert [r.status for r in world.front.calls("POST /conversations/*/drafts")] == [429, 200]
    [draft] = world.front.drafts
    assert run.output["frontDraftId"] == draft["draft"]["id"]
    assert [r["status"] for r in world.rows("drafts")] == ["created"]
    assert world.anthropic.pending == 0 and len(world.anthropic.bodies) == 2  # no second agent run


def test_front_500_after_the_refund_retries_the_draft_not_the_refund(world: World) -> None:
    action_id = world.propose_refund("evt_f5", "cnv_f5")
    world.front.fail_next("POST /conversations/*/drafts", 500)
    run = approve_and_settle(world, action_id)
    assert run.output["execution"] == "succeeded", run.error

    assert [r.status for r in world.front.calls("POST /conversations/*/drafts")] == [500, 200]
    assert len(world.front.drafts) == 1
    assert len(world.integration.refunds) == 1
    assert len(world.integration.calls("revoke-access")) == 1
    [execute] = world.inngest.runs_for("execute-action")
    assert len(retries(execute)) == 1
    assert world.action(action_id)["status"] == "succeeded"


def test_front_500_while_gathering_context_is_flagged_to_the_approver(world: World) -> None:
    """Front down while reading the conversation: the agent works from the webhook's own data
    (ARCHITECTURE.md: fallback, flagged), and the Slack request warns the approver."""
    world.front.fail_next("GET /messages/*", 500)
    action_id = world.propose_refund("evt_fm1", "cnv_fm1")
    assert world.action(action_id)["context_degraded"]
    text = "\n".join(render_blocks(world.slack_message(action_id)["blocks"]))
    assert "Context degraded" in text
    assert ("context.degraded", "agent") in world.audit()
    run = approve_and_settle(world, action_id)
    assert run.output["execution"] == "succeeded"
    assert len(world.integration.refunds) == 1


def test_anthropic_429_exhausts_the_sdk_retries_then_the_step_retries(world: World) -> None:
    world.anthropic.fail(429, times=4, retry_after=0.05)  # the SDK tries 1 + 3 times
    world.script_answer(confidence=0.5)
    world.deliver("evt_an1", "cnv_an1", "msg_an1", "How do I export my data?")
    world.settle()

    statuses = [r.status for r in world.anthropic.calls("POST /v1/messages")]
    assert statuses == [429, 429, 429, 429, 200, 200]
    run = world.completed("handle-inbound-message")
    assert len(retries(run)) == 1  # one step retry after the SDK gave up
    assert run.output["outcome"] == "drafted"
    assert len(world.front.drafts) == 1


def test_anthropic_529_overloaded_is_absorbed_by_the_sdk_retries(world: World) -> None:
    world.anthropic.fail(529, times=2, retry_after=0.05)
    world.script_answer(confidence=0.5)
    world.deliver("evt_an2", "cnv_an2", "msg_an2", "How do I export my data?")
    world.settle()

    statuses = [r.status for r in world.anthropic.calls("POST /v1/messages")]
    assert statuses == [529, 529, 200, 200]
    run = world.completed("handle-inbound-message")
    assert retries(run) == []  # the step itself never failed
    assert len(world.front.drafts) == 1


def test_anthropic_529_during_the_revision_is_retried(world: World) -> None:
    action_id = world.propose_refund("evt_an3", "cnv_an3")
    world.anthropic.fail(529, times=4, retry_after=0.05)
    world.anthropic.reply_tool_use("draft_response", {"body": "Revised reply."})
    world.anthropic.reply_text("Revised.")
    assert world.click(action_id, "reject_action").status_code == 200
    eventually(lambda: world.slack.views_opened, what="reason modal")
    assert world.submit_reject(action_id, "Not eligible").status_code == 200
    eventually(lambda: world.decided_events(action_id), what="decision event")
    world.settle()
    revise = world.completed("revise-draft")
    assert len(retries(revise)) == 1
    [draft] = world.front.drafts
    assert "Revised reply." in draft["request"]["body"]


def test_integration_times_out_after_accepting_the_refund(world: World) -> None:
    """The product app applies the refund but answers after our client gave up (the app's
    INTEGRATION_TIMEOUT_SECONDS: nothing is patched in the app process). The step retries with the same idempotency
    key and gets the stored answer: one refund, the action succeeded, the message shows it."""
    action_id = world.propose_refund("evt_it1", "cnv_it1")
    world.integration.fail_after_apply("revoke-access", delay=INTEGRATION_TIMEOUT + 1)
    run = approve_and_settle(world, action_id)
    assert run.output["execution"] == "succeeded", run.error

    attempts = world.integration.calls("revoke-access")
    assert len(attempts) == 2  # the timed-out call and the step's retry
    assert {a.header("Idempotency-Key") for a in attempts} == {action_id}
    assert attempts[0].body == attempts[1].body
    [refund] = world.integration.refunds
    [child] = world.inngest.runs_for("process-refund")
    assert child.status == "completed" and len(retries(child)) == 1
    assert child.output["refundId"] == refund["refund_id"]
    action = world.action(action_id)
    assert action["status"] == "succeeded"
    assert refund["refund_id"] in "\n".join(render_blocks(world.slack_message(action_id)["blocks"]))
    assert len(world.front.drafts) == 1
