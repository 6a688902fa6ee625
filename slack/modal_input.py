"""What an approver typed into the Reject / Edit modals, and why it cannot be stored (shown on the
input, the modal stays open)."""

from __future__ import annotations

from typing import Any

from slack import blocks
from support import approvals

MAX_REASON = blocks.INPUT_LIMIT


def input_value(body: dict[str, Any], block_id: str, action_id: str) -> str | None:
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    value = (values.get(block_id) or {}).get(action_id) or {}
    text = value.get("value")
    return str(text) if text is not None else None


def reason_of(body: dict[str, Any]) -> str | None:
    reason = (input_value(body, blocks.REASON_BLOCK, blocks.REASON_INPUT) or "").strip()
    return reason or None


def text_problem(text: str | None, what: str) -> str | None:
    """Text the database cannot store: longer than the modal allows, or not encodable."""
    if text is None:
        return None
    if len(text) > MAX_REASON:
        return f"The {what} may be at most {MAX_REASON} characters (it has {len(text)})."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"The {what} holds characters that cannot be stored (a broken emoji?); retype it."
    return None


def reason_problem(reason: str | None) -> str | None:
    if not reason:
        return "Give a reason."
    return text_problem(reason, "reason")


def amount_problem(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    if approvals.whole_amount(raw) is None:  # ASCII digits only
        return "Enter a whole number of cents greater than 0, like 1999 (digits 0-9 only)."
    return None


def error_block(body: dict[str, Any]) -> str:
    """The modal input a general error is shown on (the amount when the modal has one)."""
    values = ((body.get("view") or {}).get("state") or {}).get("values") or {}
    return blocks.AMOUNT_BLOCK if blocks.AMOUNT_BLOCK in values else blocks.DRAFT_BLOCK


def edits_of(body: dict[str, Any]) -> dict[str, Any]:
    edits: dict[str, Any] = {}
    amount = input_value(body, blocks.AMOUNT_BLOCK, blocks.AMOUNT_INPUT)
    if amount is not None and amount.strip():
        edits["amount"] = amount.strip()
    draft = input_value(body, blocks.DRAFT_BLOCK, blocks.DRAFT_INPUT)
    if draft is not None:
        edits["draftBody"] = draft
    return edits
