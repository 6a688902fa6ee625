"""What an approver may change before approving: ``validate_edits`` (the draft, a refund's amount
within the policy) and ``whole_amount``."""

from __future__ import annotations

import re
from typing import Any

from support.approvals.records import ApprovalRecord

_ASCII_DIGITS = re.compile(r"[0-9]+")
MAX_AMOUNT_DIGITS = 15
"""Longer than any refund; keeps ``int()`` of a pasted wall of digits cheap."""


def whole_amount(raw: object) -> int | None:
    """A refund amount in minor units (cents, as the integration API takes it), or None if bad.

    A string must be ASCII digits only: ``str.isdigit`` also accepts ``²`` (which ``int`` refuses)
    and full-width digits (which ``int`` reads as ASCII ones), neither of which an approver meant.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if len(text) > MAX_AMOUNT_DIGITS or not _ASCII_DIGITS.fullmatch(text):
            return None
        value = int(text)
    else:
        return None
    return value if value > 0 else None


class InvalidEdit(ValueError):
    """An edit the policy does not allow (the message says why, for the approver)."""


def validate_edits(record: ApprovalRecord, edits: dict[str, Any]) -> dict[str, Any]:
    """Normalise an approver's form input; raise ``InvalidEdit`` for what the policy forbids.

    Input: ``{"draftBody"?: str, "amount"?: str|float}``. Allowed: the draft (any text) and, for
    refunds, ``amount`` in cents (whole, > 0, at most the proposed amount and the app's
    ``max_refund_amount``).
    Output, as stored in ``approval_requests.edits`` and read by ``support.actions.effective``:
    ``{"parameters"?: {"amount": int}, "draftBody"?: str}``; unchanged values are dropped.
    """
    clean: dict[str, Any] = {}
    draft = edits.get("draftBody")
    if draft is not None and str(draft) != (record.draft_body or ""):
        clean["draftBody"] = str(draft)
    if "amount" in edits and edits["amount"] is not None:
        if record.action_type != "refund":
            raise InvalidEdit("only a refund's amount can be changed")
        amount = whole_amount(edits["amount"])
        if amount is None:
            raise InvalidEdit("the amount must be a whole number of cents, greater than 0")
        proposed = record.parameters.get("amount")
        if isinstance(proposed, int) and amount > proposed:
            raise InvalidEdit(f"the amount may not exceed the proposed {proposed}")
        if record.max_refund_amount is not None and amount > record.max_refund_amount:
            raise InvalidEdit(
                f"the amount may not exceed the app's limit {record.max_refund_amount:g}"
            )
        if amount != proposed:
            clean["parameters"] = {"amount": amount}
    unknown = set(edits) - {"draftBody", "amount"}
    if unknown:
        raise InvalidEdit(f"these fields cannot be edited: {', '.join(sorted(unknown))}")
    return clean
