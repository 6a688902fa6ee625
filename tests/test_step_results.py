"""Step outputs (support/results.py): the wire shapes stay those of the dicts they replaced, and a
memoised value of another shape stops the run naming the step."""

from __future__ import annotations

import inngest
import pytest

from support.results import (
    ActionRun,
    Claim,
    DraftDeletion,
    DraftSend,
    InboundContext,
    RuleCheck,
    parse_output,
)

CONTEXT = {
    "appId": 1,
    "appName": "Acme",
    "conversationId": "cnv_1",
    "messageId": "msg_1",
    "inboxId": "inb_1",
    "frontEventId": "evt_1",
    "subject": "Help",
    "message": "Hi",
    "customerEmail": "reply@example.com",
    "senderEmail": "jane@example.com",
    "history": [],
    "outboundStreak": 0,
    "user": None,
    "purchases": [],
    "degraded": False,
    "degradedReasons": [],
}


def test_a_memo_of_another_shape_is_a_non_retriable_error_naming_the_step() -> None:
    with pytest.raises(inngest.NonRetriableError) as raised:
        parse_output("check-rules", {"stopp": True, "reason": None}, RuleCheck)
    assert "check-rules" in str(raised.value) and "stop" in str(raised.value)
    with pytest.raises(inngest.NonRetriableError, match="claim-action"):
        parse_output("claim-action", {"claimed": True, "reason": None, "action": {}}, Claim)


def test_wire_shapes_are_the_camel_case_dicts_of_before() -> None:
    context = parse_output("gather-context", CONTEXT, InboundContext)
    assert context.dump() == CONTEXT  # same keys, same values: old memos replay
    assert context.account_owner() == "jane@example.com"
    assert RuleCheck(stop=False, reason=None).dump() == {"stop": False, "reason": None}


def test_outputs_whose_keys_were_optional_leave_them_out() -> None:
    assert DraftSend(sent=False, reason="x").dump() == {"sent": False, "reason": "x"}
    sent = {"sent": True, "messageUid": "msg_9", "frontDraftId": "dra_1"}
    assert parse_output("send-draft", sent, DraftSend).dump() == sent
    assert DraftDeletion(deleted=True, front_draft_id="dra_1").dump() == {
        "deleted": True,
        "frontDraftId": "dra_1",
    }


def test_an_action_run_is_its_result_or_an_error() -> None:
    ran = parse_output("run-action", {"commentId": "com_1"}, ActionRun)
    assert ran.error is None and ran.result() == {"commentId": "com_1"}
    assert ran.dump() == {"commentId": "com_1"}
    refused = parse_output("run-action", {"error": "404"}, ActionRun)
    assert refused.error == "404" and refused.result() == {}
