"""Event models: camelCase on the wire, one shared actionId field, bad data is non-retriable."""

from __future__ import annotations

import celpy
import inngest
import pytest

from support import events
from support.events import (
    ACTION_ID_FIELD,
    DECISION_MATCHES_REQUEST,
    ApprovalDecided,
    ApprovalRequested,
    InboundReceived,
    ProposedAction,
    truncate_utf8,
)


def _cel(expression: str, activation: dict[str, object]) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(expression))
    return bool(program.evaluate(celpy.json_to_cel(activation)))


def test_request_and_decision_share_the_action_id_field() -> None:
    request = ApprovalRequested(
        action_id="act_1",
        conversation_id="cnv_1",
        app_id=1,
        action=ProposedAction(type="refund", parameters={"purchase_id": "p1"}),
    ).to_event(event_id="approval-requested-act_1")
    decision = ApprovalDecided(
        action_id="act_1", decision="approved", decided_by="U1", decided_at="2026-11-25T10:00:00Z"
    ).to_event(event_id=ApprovalDecided.event_id("act_1"))
    assert ACTION_ID_FIELD == "actionId"
    assert request.data[ACTION_ID_FIELD] == decision.data[ACTION_ID_FIELD] == "act_1"
    assert DECISION_MATCHES_REQUEST == "event.data.actionId == async.data.actionId"
    # The wait's expression, evaluated by a real CEL engine, pairs exactly these two events.
    assert _cel(
        DECISION_MATCHES_REQUEST,
        {"event": {"data": request.data}, "async": {"data": decision.data}},
    )
    other = {**decision.data, ACTION_ID_FIELD: "act_2"}
    assert not _cel(
        DECISION_MATCHES_REQUEST, {"event": {"data": request.data}, "async": {"data": other}}
    )


def test_every_action_id_field_is_camel_cased_the_same() -> None:
    for model in vars(events).values():
        if (
            isinstance(model, type)
            and issubclass(model, events.EventData)
            and "action_id" in model.model_fields
        ):
            assert model.model_fields["action_id"].alias == ACTION_ID_FIELD, model.__name__


def inbound_received(**optional: str) -> InboundReceived:
    """A received message's event with its required fields, and ``optional`` ones."""
    return InboundReceived(
        conversation_id="cnv_1",
        message_id="msg_1",
        app_id=3,
        inbox_id="inb_1",
        front_event_id="evt_1",
        **optional,
    )


def test_wire_format_is_camel_case_without_nones() -> None:
    event = inbound_received().to_event(event_id="evt_1")
    assert event.name == "front/inbound_received" and event.id == "evt_1"
    assert event.data == {
        "conversationId": "cnv_1",
        "messageId": "msg_1",
        "appId": 3,
        "inboxId": "inb_1",
        "frontEventId": "evt_1",
    }
    assert InboundReceived.parse(event.data).front_event_id == "evt_1"


def test_truncation_is_utf8_safe_and_idempotent() -> None:
    assert truncate_utf8("ab😀", 5) == ("ab", True)
    assert truncate_utf8("ab😀", 6) == ("ab😀", False)
    event = inbound_received(
        message_body="😀" * 10_000, subject="😀" * 1000, customer_email="x" * 5000
    )
    data = event.to_event().data
    assert data["messageBody"] == "😀" * 4096 and data["messageBodyTruncated"] is True
    assert data["subject"] == "😀" * 256
    assert len(data["customerEmail"]) == 1024
    assert InboundReceived.parse(data) == event, "the workflow reads back what was sent"


def test_bad_event_data_is_a_non_retriable_error_naming_the_event() -> None:
    with pytest.raises(inngest.NonRetriableError, match="bad support/approval.decided payload"):
        ApprovalDecided.parse({ACTION_ID_FIELD: "act_1", "decision": "maybe"})
    with pytest.raises(inngest.NonRetriableError, match="conversationId"):
        InboundReceived.parse({"messageId": "m", "appId": 1, "inboxId": "i", "frontEventId": "e"})
