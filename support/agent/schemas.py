"""The tool schemas given to Claude (``TOOLS``) and how the guards group them: which tools read
(``READ_TOOLS``) and which propose an action, of which type (``ACTION_TOOLS``). What each call may
touch is decided in ``support/agent/tools.py``, never here."""

from __future__ import annotations

from typing import Any

CATEGORIES = [
    "question",
    "how_to",
    "access_problem",
    "refund",
    "transfer",
    "billing",
    "bug_report",
    "angry_customer",
    "legal",
    "other",
]

TOOLS: list[dict[str, Any]] = [
    {
        "name": "lookup_user",
        "description": "Find the customer's account in the product app by email. Only the sender "
        "of the message can be looked up.",
        "input_schema": {
            "type": "object",
            "properties": {"email": {"type": "string"}},
            "required": ["email"],
        },
    },
    {
        "name": "get_purchases",
        "description": "List the customer's purchases (id, product, amount in cents, currency, "
        "purchased_at, status). Only for the user lookup_user returned.",
        "input_schema": {
            "type": "object",
            "properties": {"user_id": {"type": "string"}},
            "required": ["user_id"],
        },
    },
    {
        "name": "draft_response",
        "description": "Write the reply to the customer in Markdown, in the customer's language. "
        "A human may review it first.",
        "input_schema": {
            "type": "object",
            "properties": {
                "body": {"type": "string"},
                "category": {"type": "string", "enum": CATEGORIES},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
            "required": ["body"],
        },
    },
    {
        "name": "escalate_to_human",
        "description": "Hand the conversation to a human (leaves an internal note).",
        "input_schema": {
            "type": "object",
            "properties": {
                "reason": {"type": "string"},
                "urgency": {"type": "string", "enum": ["low", "normal", "high"]},
            },
            "required": ["reason", "urgency"],
        },
    },
    {
        "name": "process_refund",
        "description": "PROPOSE a refund of one of the customer's purchases (from get_purchases). "
        "amount: whole cents, at most what was paid (default: the full price); currency: the "
        "purchase's. It is not executed now; an approver decides.",
        "input_schema": {
            "type": "object",
            "properties": {
                "purchase_id": {"type": "string"},
                "reason": {"type": "string"},
                "amount": {"type": "integer", "minimum": 1},
                "currency": {"type": "string"},
            },
            "required": ["purchase_id", "reason"],
        },
    },
    {
        "name": "transfer_purchase",
        "description": "PROPOSE moving one of the customer's purchases to another email address "
        "(approver decides).",
        "input_schema": {
            "type": "object",
            "properties": {"purchase_id": {"type": "string"}, "to_email": {"type": "string"}},
            "required": ["purchase_id", "to_email"],
        },
    },
    {
        "name": "assign_to_instructor",
        "description": "PROPOSE handing a course-content question to the instructor.",
        "input_schema": {
            "type": "object",
            "properties": {"reason": {"type": "string"}},
            "required": ["reason"],
        },
    },
]

ACTION_TOOLS = {
    "process_refund": "refund",
    "transfer_purchase": "transfer",
    "assign_to_instructor": "assign_to_instructor",
    "escalate_to_human": "escalate",
}
READ_TOOLS = frozenset({"lookup_user", "get_purchases"})
