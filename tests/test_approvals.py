"""The approval state machine on SQLite and MariaDB: one winner, losers told who won."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest

from support import approvals, db
from support.db.models import utcnow
from tests.world import approval_row, audit_rows, make_app, make_request


@pytest.fixture
def app_id(clean_db: str) -> Iterator[int]:
    db.configure(clean_db)
    yield make_app()


def test_first_decision_wins_and_moves_the_action(app_id: int) -> None:
    action_id = make_request(app_id)
    first = approvals.decide(action_id, "approved", "U0APPROVER1")
    second = approvals.decide(action_id, "approved", "U0APPROVER2")

    assert first.won and first.status == "approved"
    assert not second.won
    assert second.status == "approved"
    assert second.record is not None and second.record.decided_by == "U0APPROVER1"
    row = approval_row(action_id)
    assert row["status"] == "approved" and row["decided_by"] == "U0APPROVER1"
    assert row["action_status"] == "approved"
    events = [(a["event"], a["actor"]) for a in audit_rows(action_id)]
    assert events == [("approval.approved", "U0APPROVER1")]


def test_rejection_needs_a_reason_and_records_it(app_id: int) -> None:
    action_id = make_request(app_id)
    with pytest.raises(ValueError):
        approvals.decide(action_id, "rejected", "U0APPROVER1", reason="   ")
    assert approval_row(action_id)["status"] == "pending"

    outcome = approvals.decide(action_id, "rejected", "U0APPROVER1", reason=" not eligible ")
    assert outcome.won
    row = approval_row(action_id)
    assert (row["status"], row["reason"], row["action_status"]) == (
        "rejected",
        "not eligible",
        "rejected",
    )
    [entry] = audit_rows(action_id)
    assert entry["event"] == "approval.rejected"
    assert entry["detail"]["reason"] == "not eligible"


def test_expired_request_cannot_be_decided(app_id: int) -> None:
    action_id = make_request(app_id)
    assert approvals.expire(action_id).won
    late = approvals.decide(action_id, "approved", "U0APPROVER1")
    assert not late.won and late.status == "expired"
    row = approval_row(action_id)
    assert row["status"] == "expired" and row["action_status"] == "expired"
    assert [a["event"] for a in audit_rows(action_id)] == ["approval.expired"]
    assert not approvals.expire(action_id).won  # once


def test_request_past_its_expiry_time_is_refused_before_the_run_expires_it(app_id: int) -> None:
    action_id = make_request(app_id, expires_in=dt.timedelta(seconds=-1))
    outcome = approvals.decide(action_id, "approved", "U0APPROVER1")
    assert not outcome.won and outcome.status == "expired"
    assert approval_row(action_id)["status"] == "pending"


def test_expire_does_not_touch_a_decided_request(app_id: int) -> None:
    action_id = make_request(app_id)
    approvals.decide(action_id, "approved", "U0APPROVER1")
    outcome = approvals.expire(action_id)
    assert not outcome.won and outcome.status == "approved"


def test_unknown_action(app_id: int) -> None:
    outcome = approvals.decide("act_nope", "approved", "U0APPROVER1")
    assert not outcome.won and not outcome.found and outcome.status == "missing"


@pytest.mark.parametrize("workers", [50])
def test_concurrent_decisions_have_exactly_one_winner(app_id: int, workers: int) -> None:
    action_id = make_request(app_id)
    barrier = threading.Barrier(workers)
    outcomes: list[approvals.Outcome] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def click(i: int) -> None:
        try:
            barrier.wait()
            decision: approvals.Decision = "approved" if i % 2 else "rejected"
            result = approvals.decide(action_id, decision, f"U0USER{i:03d}", reason="no")
            with lock:
                outcomes.append(result)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    winners = [o for o in outcomes if o.won]
    assert len(winners) == 1
    winner = winners[0].record
    assert winner is not None
    for loser in (o for o in outcomes if not o.won):
        assert loser.record is not None
        assert loser.record.decided_by == winner.decided_by
        assert loser.status == winner.status
    decisions = [a for a in audit_rows(action_id) if a["event"].startswith("approval.")]
    assert len(decisions) == 1


def test_edits_are_validated_stored_and_audited(app_id: int) -> None:
    action_id = make_request(app_id)
    record = approvals.load(action_id)
    assert record is not None
    with pytest.raises(approvals.InvalidEdit):
        approvals.validate_edits(record, {"amount": "6000"})  # above the proposed 4900
    with pytest.raises(approvals.InvalidEdit):
        approvals.validate_edits(record, {"amount": "-1"})
    with pytest.raises(approvals.InvalidEdit):
        approvals.validate_edits(record, {"amount": "19.99"})  # cents are whole
    with pytest.raises(approvals.InvalidEdit):
        approvals.validate_edits(record, {"purchase_id": "other"})
    edits = approvals.validate_edits(record, {"amount": "2000", "draftBody": "Refunded 20."})
    assert edits == {"parameters": {"amount": 2000}, "draftBody": "Refunded 20."}
    unchanged = {"amount": "4900", "draftBody": record.draft_body}
    assert approvals.validate_edits(record, unchanged) == {}

    assert approvals.decide(action_id, "approved", "U0APPROVER1", edits=edits).won
    row = approval_row(action_id)
    assert row["edits"] == edits
    assert row["parameters"]["amount"] == 4900  # the proposal is kept; the executor merges
    entries = {a["event"]: a for a in audit_rows(action_id)}
    assert entries["approval.edited"]["actor"] == "U0APPROVER1"
    assert entries["approval.edited"]["detail"]["parametersBefore"]["amount"] == 4900


def test_app_limit_caps_an_edited_refund(clean_db: str) -> None:
    db.configure(clean_db)
    action_id = make_request(make_app("capped", max_refund_amount=3000.0))
    record = approvals.load(action_id)
    assert record is not None
    with pytest.raises(approvals.InvalidEdit, match="limit"):
        approvals.validate_edits(record, {"amount": 4000})


def test_unresolved_decisions_are_found_until_resolved(app_id: int) -> None:
    old = utcnow() - dt.timedelta(minutes=5)
    decided = make_request(app_id)
    fresh = make_request(app_id)
    pending = make_request(app_id)
    approvals.decide(decided, "approved", "U0APPROVER1", now=old)
    approvals.decide(fresh, "rejected", "U0APPROVER1", reason="no")
    found = approvals.unresolved_decisions(dt.timedelta(minutes=1))
    assert [r.action_id for r in found] == [decided]
    assert pending not in [r.action_id for r in found]

    assert approvals.mark_resolved(decided)
    assert not approvals.mark_resolved(decided)
    assert approvals.unresolved_decisions(dt.timedelta(minutes=1)) == []


def test_resolve_expires_a_pending_request_once(app_id: int) -> None:
    action_id = make_request(app_id)
    first = approvals.resolve(action_id)
    assert first.won and first.status == "expired"
    assert first.record is not None and first.record.resolved_at is not None
    second = approvals.resolve(action_id)
    assert not second.won and second.status == "expired"


def test_pending_for_home_is_oldest_first(app_id: int) -> None:
    a = make_request(app_id)
    b = make_request(app_id)
    c = make_request(app_id)
    approvals.decide(b, "approved", "U0APPROVER1")
    assert [r.action_id for r in approvals.pending_for_home()] == [a, c]


def test_reminder_is_recorded_once_and_only_while_pending(app_id: int) -> None:
    action_id = make_request(app_id)
    assert approvals.mark_reminded(action_id)
    assert not approvals.mark_reminded(action_id)
    other = make_request(app_id)
    approvals.decide(other, "approved", "U0APPROVER1")
    assert not approvals.mark_reminded(other)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1999", 1999),
        (" 2000 ", 2000),
        (2000, 2000),
        ("²", None),  # str.isdigit() is True, int() raises: once a 500
        ("１００", None),  # full-width digits: int() reads 100: once taken as 100 cents
        ("٣", None),  # Arabic-Indic three
        ("0", None),
        ("-5", None),
        ("19.99", None),
        ("9" * 400, None),
        (True, None),
        (None, None),
    ],
)
def test_whole_amount_takes_ascii_digits_only(raw: object, expected: int | None) -> None:
    assert approvals.whole_amount(raw) == expected


def test_record_columns_are_read_by_name(app_id: int) -> None:
    """Two ``str | None`` columns side by side (the app's channel, the posted message's channel):
    swapped by position once, they would post to the wrong channel and still type-check."""
    other = make_app("beta", slack_channel="C0APPCHANNEL", max_refund_amount=5000.0)
    action_id = make_request(other, reasoning="why", customer_email="joe@example.com")
    approvals.record_message(action_id, "C0POSTEDHERE", "1700000001.000200")
    record = approvals.load(action_id)
    assert record is not None
    assert (record.app_channel, record.slack_channel) == ("C0APPCHANNEL", "C0POSTEDHERE")
    assert (record.app_id, record.action_id, record.slack_ts) == (
        other,
        action_id,
        "1700000001.000200",
    )
    assert (record.reasoning, record.customer_email) == ("why", "joe@example.com")
    assert record.max_refund_amount == 5000.0 and record.status == "pending"
    assert record.action_status == "pending_approval" and record.edits is None
