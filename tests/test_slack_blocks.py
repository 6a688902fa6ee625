"""Block Kit builders: pure, validated by slack_sdk, buttons only while pending."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pathlib
import re
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from slack import blocks, mrkdwn

NOW = dt.datetime(2026, 11, 25, 12, 0, 0)


def pending(**kw: Any) -> blocks.RequestView:
    base: dict[str, Any] = {
        "action_id": "act_1",
        "action_type": "refund",
        "conversation_id": "cnv_1",
        "app_name": "Acme Courses",
        "customer_email": "jane@example.com",
        "reasoning": "Charged twice.",
        "parameters": {"purchase_id": "pur_1", "amount": 4900},
        "draft_body": "Hi Jane, refunded.",
        "created_at": NOW,
        "expires_at": NOW + dt.timedelta(hours=24),
    }
    base.update(kw)
    return blocks.RequestView(**base)


def rendered(view: blocks.RequestView) -> list[dict[str, Any]]:
    """The message's blocks, checked by slack_sdk's block models: each dict parses into its model
    and serialises back unchanged (``to_dict`` raises on any Slack limit exceeded)."""
    dicts = blocks.request_blocks(view)
    assert [block.to_dict() for block in Block.parse_all(dicts)] == dicts
    return dicts


def buttons(dicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for b in dicts if b["type"] == "actions" for e in b["elements"]]


def text_of(dicts: list[dict[str, Any]]) -> str:
    return json.dumps(dicts)


def test_pending_request_has_header_details_and_the_four_buttons() -> None:
    dicts = rendered(pending(context_degraded=True))
    assert dicts[0]["type"] == "header"
    assert "Refund for jane@example.com" in dicts[0]["text"]["text"]
    text = text_of(dicts)
    for needle in ("Acme Courses", "Context degraded", "Charged twice", "pur_1", "Hi Jane"):
        assert needle in text
    by_id = {b["action_id"]: b for b in buttons(dicts)}
    assert set(by_id) == {"approve_action", "reject_action", "edit_action", "open_in_front"}
    assert by_id["approve_action"]["style"] == "primary"
    assert by_id["approve_action"]["value"] == "act_1"
    assert "confirm" in by_id["approve_action"]  # refunds ask first
    assert by_id["reject_action"]["style"] == "danger"
    assert by_id["open_in_front"]["url"] == "https://app.frontapp.com/open/cnv_1"


def test_non_refund_has_no_confirm_dialog_and_no_degraded_warning() -> None:
    dicts = rendered(pending(action_type="transfer", parameters={"to_email": "x@example.com"}))
    approve = next(b for b in buttons(dicts) if b["action_id"] == "approve_action")
    assert "confirm" not in approve
    assert "Context degraded" not in text_of(dicts)


def test_long_reasoning_and_draft_are_trimmed_to_slack_limits() -> None:
    view = pending(reasoning="why " * 5000, draft_body="d" * 10000, parameters={"x": "y" * 9000})
    dicts = rendered(view)  # to_dict() raises if any limit is exceeded
    for block in dicts:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


def test_the_round_trip_check_catches_a_block_over_slacks_limits() -> None:
    """``rendered``'s check is not vacuous: a section over 3,000 characters or a header over 150
    fails it, the way Slack would refuse the message."""
    from slack_sdk.errors import SlackObjectFormationError

    for block in (
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
        {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}},
    ):
        with pytest.raises(SlackObjectFormationError):
            [b.to_dict() for b in Block.parse_all([block])]
    long_header = pending(customer_email="e" * 400 + "@example.com")
    assert len(rendered(long_header)[0]["text"]["text"]) <= 150


def test_decided_states_have_no_decision_buttons() -> None:
    decided_at = NOW + dt.timedelta(minutes=5)
    cases = {
        "approved": pending(status="approved", decided_by="U0APPROVER1", decided_at=decided_at),
        "rejected": pending(
            status="rejected",
            decided_by="U0APPROVER1",
            decided_at=decided_at,
            reason="Not eligible",
        ),
        "expired": pending(status="expired"),
        "succeeded": pending(
            status="approved",
            decided_by="U0APPROVER1",
            decided_at=decided_at,
            action_status="succeeded",
            result={"refundId": "re_123"},
        ),
        "failed": pending(
            status="approved",
            decided_by="U0APPROVER1",
            decided_at=decided_at,
            action_status="failed",
            error="card declined",
        ),
    }
    expected = {
        "approved": "Approved by <@U0APPROVER1> at <!date^",
        "rejected": "Not eligible",
        "expired": "Expired, no action taken",
        "succeeded": "re_123",
        "failed": "Execution failed:* card declined",
    }
    for name, view in cases.items():
        dicts = rendered(view)
        ids = {b["action_id"] for b in buttons(dicts)}
        assert ids == {"open_in_front"}, name
        assert expected[name] in text_of(dicts), name
    assert "Executed successfully" in text_of(rendered(cases["succeeded"]))
    assert "Executed" not in text_of(rendered(cases["failed"]))


def test_from_dict_ignores_unknown_keys_and_parses_dates() -> None:
    view = blocks.RequestView.from_dict(
        {**dataclasses.asdict(pending()), "decided_at": "2026-11-25T12:05:00", "slack_ts": "1.2"}
    )
    assert view.decided_at == dt.datetime(2026, 11, 25, 12, 5)


def test_reject_modal_requires_a_reason() -> None:
    modal = blocks.reject_modal(pending()).to_dict()
    assert modal["callback_id"] == "reject_reason"
    assert modal["private_metadata"] == "act_1"
    [field] = [b for b in modal["blocks"] if b["type"] == "input"]
    assert field["block_id"] == "reason" and field["element"]["action_id"] == "reason_input"
    assert not field.get("optional", False)


def test_edit_modal_offers_amount_for_refunds_only() -> None:
    refund = blocks.edit_modal(pending()).to_dict()
    inputs = {b["block_id"]: b for b in refund["blocks"] if b["type"] == "input"}
    assert inputs["amount"]["element"]["initial_value"] == "4900"
    assert inputs["draft"]["element"]["initial_value"] == "Hi Jane, refunded."
    other = blocks.edit_modal(pending(action_type="transfer", parameters={})).to_dict()
    assert {b["block_id"] for b in other["blocks"] if b["type"] == "input"} == {"draft"}


def test_home_view_lists_oldest_first_with_age_and_buttons() -> None:
    views = [
        pending(action_id="act_old", created_at=NOW - dt.timedelta(hours=3)),
        pending(action_id="act_new", created_at=NOW - dt.timedelta(minutes=5)),
    ]
    home = blocks.home_view(views, NOW).to_dict()
    assert home["type"] == "home"
    text = json.dumps(home)
    assert text.index("act_old") < text.index("act_new")
    assert "waiting 3 h 0 min" in text and "waiting 5 min" in text
    approve_values = [
        e["value"]
        for b in home["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "approve_action"
    ]
    assert approve_values == ["act_old", "act_new"]
    watcher = blocks.home_view(views, NOW, allowed=False).to_dict()
    assert not [b for b in watcher["blocks"] if b["type"] == "actions"]


def test_reminder_mentions_the_approvers() -> None:
    text = blocks.reminder_text(pending(), ("U0A", "U0B"), NOW)
    assert "<@U0A> <@U0B>" in text and "expires" in text


# -- the draft preview: Markdown shown as Slack mrkdwn ------------------------------------------

DRAFTS = pathlib.Path(__file__).parent / "fixtures" / "drafts"


def draft_section(view: blocks.RequestView) -> str:
    [text] = [
        b["text"]["text"]
        for b in rendered(view)
        if b["type"] == "section" and b["text"]["text"].startswith("*Draft reply:*")
    ]
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("sample", sorted(p.stem for p in DRAFTS.glob("*.md")))
def test_real_drafts_are_shown_as_slack_mrkdwn(sample: str) -> None:
    markdown = (DRAFTS / f"{sample}.md").read_text()
    expected = (DRAFTS / f"{sample}.mrkdwn").read_text()
    text = draft_section(pending(draft_body=markdown))
    assert text == "*Draft reply:*\n" + expected
    assert "**" not in text and "](" not in text  # no Markdown left for Slack to show literally
    assert text.count("```") % 2 == 0


def test_mrkdwn_conversion_rules() -> None:
    md = mrkdwn.to_mrkdwn
    assert md("Hi **Jane**, we are *on it*.") == "Hi *Jane*, we are _on it_."
    assert md("__strong__ and _em_") == "*strong* and _em_"
    assert md("[the guide](https://x.test/a?b=1&c=2)") == "<https://x.test/a?b=1&amp;c=2|the guide>"
    assert md("<https://x.test>") == "<https://x.test>"
    assert md("[a|b](https://x.test/p|q)") == "<https://x.test/p%7Cq|a¦b>"
    assert md("# Title\n\ntext") == "*Title*\n\ntext"
    assert md("- a\n- b\n  1. c\n  2. d") == "• a\n• b\n    1. c\n    2. d"
    assert md("3. three\n4. four") == "3. three\n4. four"
    assert (
        md("```python\nif a < b and c > d & e:\n```")
        == "```\nif a &lt; b and c &gt; d &amp; e:\n```"
    )
    assert md("use `<tag>` here") == "use `&lt;tag&gt;` here"
    assert md("> quoted\n> **line**") == "> quoted\n> *line*"


def test_the_draft_cannot_ping_or_inject_slack_markup() -> None:
    text = mrkdwn.to_mrkdwn("Hey <!channel> and <@U0APPROVER1>, see <https://evil.test|Front>")
    assert "<!channel>" not in text and "<@U0APPROVER1>" not in text
    assert "&lt;!channel&gt;" in text and "&lt;@U0APPROVER1&gt;" in text
    assert mrkdwn.to_mrkdwn("[click](javascript:alert(1))") == "[click](javascript:alert(1))"
    assert "<b>" not in mrkdwn.to_mrkdwn("<b>raw html</b>")


def test_a_long_draft_is_cut_at_a_block_within_the_section_limit() -> None:
    paragraphs = [f"Paragraph {i}: " + "**word** " * 60 for i in range(20)]
    text = draft_section(pending(draft_body="\n\n".join(paragraphs)))
    assert len(text) <= blocks.SECTION_TEXT_LIMIT
    assert text.endswith(mrkdwn.CUT_NOTE)
    kept = text.split("\n\n")[:-1]
    assert all(p.startswith("Paragraph") and p.rstrip().endswith("*word*") for p in kept[1:])


def test_one_huge_code_block_is_cut_and_closed() -> None:
    code = "```\n" + "\n".join(f"line {i} <x> & y" for i in range(800)) + "\n```"
    text = draft_section(pending(draft_body=code))
    assert len(text) <= blocks.SECTION_TEXT_LIMIT
    assert text.count("```") == 2 and text.endswith(mrkdwn.CUT_NOTE)
    assert not re.search(r"&[a-z]*…", text)  # no half entity


def test_one_huge_paragraph_of_links_is_cut_without_half_a_link() -> None:
    body = " ".join(f"[link {i}](https://x.test/{i})" for i in range(400))
    text = draft_section(pending(draft_body=body))
    assert len(text) <= blocks.SECTION_TEXT_LIMIT
    shown = text.removesuffix(mrkdwn.CUT_NOTE)
    assert shown.count("<") == shown.count(">")


@pytest.mark.parametrize("size", [2900, 2950, 2975, 2990, 3000, 3100])
def test_the_cut_note_always_fits(size: int) -> None:
    first = "a" * (size - 100)
    body = f"{first}\n\n" + "b" * 90 + "\n\nlast"
    text = mrkdwn.preview(body, 2980)
    assert len(text) <= 2980
    assert text.endswith(mrkdwn.CUT_NOTE) or text == mrkdwn.to_mrkdwn(body)
