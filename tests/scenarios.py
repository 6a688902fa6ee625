"""Scenarios both suites play with the same ``World`` verbs, in process
(``tests/test_workflow_inbound.py``) and under gunicorn (``tests/e2e/``), each adding its own
checks."""

from __future__ import annotations

from typing import Any

from tests.fakes.inngest_double import Run
from tests.world import CHANNEL, World

PASSWORD_ANSWER = "Hi!\n\nYou can reset it under **Settings > Password**."


def password_question_drafted(world: World, confidence: float) -> tuple[Run, dict[str, Any]]:
    """A customer asks how to change the password; Claude drafts ``PASSWORD_ANSWER`` with
    ``confidence``. Checks that the inbound run drafted it in Front (the Markdown as HTML) and asked
    no one for approval nor auto-sent it; returns the run and the draft."""
    world.script_answer(PASSWORD_ANSWER, confidence=confidence)
    world.deliver("evt_q1", "cnv_q1", "msg_q1", "How do I change my password?")
    world.settle()
    run = world.completed("handle-inbound-message")
    assert run.output["outcome"] == "drafted"
    [draft] = world.front.drafts
    assert draft["conversation_id"] == "cnv_q1" and draft["channel_id"] == CHANNEL
    assert "<strong>Settings &gt; Password</strong>" in draft["request"]["body"]
    assert world.inngest.events_named("support/approval.requested") == []
    assert world.rows("actions") == []
    assert world.inngest.events_named("support/draft.auto_send") == []  # no trust: no auto-send
    return run, draft
