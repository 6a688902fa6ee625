"""Tool schemas given to Claude, and how each tool call is handled.

Read-only tools (``lookup_user``, ``get_purchases``) call the app's integration API inside the loop.
``draft_response`` records the reply. Risky tools (``process_refund``, ``transfer_purchase``,
``assign_to_instructor``) and ``escalate_to_human`` only record a *proposal*; nothing is executed
here. One action per message: a second, different proposal is refused with a tool error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from support.integrations import IntegrationClient, IntegrationError

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
        "description": "Find the customer's account in the product app by email.",
        "input_schema": {
            "type": "object",
            "properties": {"email": {"type": "string"}},
            "required": ["email"],
        },
    },
    {
        "name": "get_purchases",
        "description": "List a user's purchases (ids, product, amount in cents, status).",
        "input_schema": {
            "type": "object",
            "properties": {"user_id": {"type": "string"}},
            "required": ["user_id"],
        },
    },
    {
        "name": "draft_response",
        "description": "Write the reply to the customer in Markdown. A human may review it first.",
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
        "description": "PROPOSE a refund of a purchase (amount in cents, default the full price). "
        "It is not executed now; an approver decides.",
        "input_schema": {
            "type": "object",
            "properties": {
                "purchase_id": {"type": "string"},
                "reason": {"type": "string"},
                "amount": {"type": "integer", "minimum": 1},
            },
            "required": ["purchase_id", "reason"],
        },
    },
    {
        "name": "transfer_purchase",
        "description": "PROPOSE moving a purchase to another email address (approver decides).",
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


class ToolInputError(ValueError):
    """The model called a tool with missing or malformed input (answered as a tool error)."""


@dataclass
class ToolState:
    """What the tool calls of one loop produced."""

    integration: IntegrationClient | None
    draft_body: str | None = None
    category: str | None = None
    confidence: float | None = None
    action_type: str | None = None
    action_parameters: dict[str, Any] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)
    integration_failed: bool = False


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ToolInputError(f"{name} must be a non-empty string")
    return value.strip()


def _amount(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ToolInputError("amount must be a positive whole number of cents")
    if isinstance(value, float) and not value.is_integer():
        raise ToolInputError("amount must be a whole number of cents")
    return int(value)


def _parameters(name: str, data: dict[str, Any]) -> dict[str, Any]:
    if name == "process_refund":
        params: dict[str, Any] = {
            "purchase_id": _text(data, "purchase_id"),
            "reason": _text(data, "reason"),
        }
        amount = _amount(data.get("amount"))
        if amount is not None:
            params["amount"] = amount
        return params
    if name == "transfer_purchase":
        to_email = _text(data, "to_email")
        if to_email is None or "@" not in to_email:
            raise ToolInputError("to_email must be an email address")
        return {"purchase_id": _text(data, "purchase_id"), "to_email": to_email}
    if name == "assign_to_instructor":
        return {"reason": _text(data, "reason")}
    urgency = data.get("urgency") if data.get("urgency") in ("low", "normal", "high") else "normal"
    return {"reason": _text(data, "reason"), "urgency": urgency}


def handle(state: ToolState, name: str, data: Any) -> tuple[str, bool]:
    """Run one tool call; returns (tool_result content, is_error)."""
    state.used.append(name)
    if not isinstance(data, dict):
        return "input must be an object", True
    try:
        if name in ("lookup_user", "get_purchases"):
            return _read_only(state, name, data)
        if name == "draft_response":
            state.draft_body = _text(data, "body")
            category = data.get("category")
            state.category = category if isinstance(category, str) else state.category
            confidence = data.get("confidence")
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                state.confidence = max(0.0, min(1.0, float(confidence)))
            return "Draft saved. It will be put on the conversation for review.", False
        if name in ACTION_TOOLS:
            action_type = ACTION_TOOLS[name]
            params = _parameters(name, data)
            if state.action_type is not None and (
                state.action_type != action_type or state.action_parameters != params
            ):
                return (
                    f"Only one action per message; {state.action_type} is already proposed.",
                    True,
                )
            state.action_type, state.action_parameters = action_type, params
            return (
                f"Proposed {action_type}. Nothing has been done yet: a person may need to "
                "approve it. Write the customer reply accordingly.",
                False,
            )
    except ToolInputError as exc:
        return f"invalid input: {exc}", True
    return f"unknown tool {name}", True


def _read_only(state: ToolState, name: str, data: dict[str, Any]) -> tuple[str, bool]:
    if state.integration is None:
        return "the app's integration API is not configured", True
    try:
        if name == "lookup_user":
            email = _text(data, "email")
            assert email is not None
            return json.dumps({"user": state.integration.lookup_user(email)}), False
        user_id = _text(data, "user_id")
        assert user_id is not None
        return json.dumps({"purchases": state.integration.get_purchases(user_id)}), False
    except IntegrationError as exc:
        state.integration_failed = True
        return f"the app's API failed: {exc}", True
