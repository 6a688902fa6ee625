"""The guards that decide, in code, what each tool call may touch (the schemas given to Claude are
in ``support/agent/schemas.py``; ``TOOLS`` is re-exported here).

The model reads text anyone can email, so no tool trusts what the model asks for:

* ``lookup_user`` answers only for the conversation's customer: the *sender* of the inbound
  message as Front reports it (``ToolState.sender``), never a ``reply-to`` or an address named in
  the text. Unknown sender (Front could not be read) -> no account data at all.
* ``get_purchases`` answers only for the user that lookup returned for that sender.
* ``process_refund`` / ``transfer_purchase`` accept only a purchase that ``get_purchases`` returned
  for that user in this run (gather-context's read counts: it is the same lookup, made by our
  code); a refund amount in whole cents, > 0 and <= what was paid, in the purchase's currency,
  inside ``policy.REFUND_WINDOW_DAYS``; a transfer to a valid address that is not the owner's.
* One proposal per message: a second, different proposal is refused.

A refused call is answered as a tool error (``is_error``) so the model can recover, and recorded in
``ToolState.refusals`` (the caller writes each to the audit log). A proposal carries the purchase as
the integration returned it (``parameters["purchase"]``): the approval card shows that, not the
model's description. ``draft_response`` records the reply; nothing here executes an action.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from pydantic.alias_generators import to_camel

from support import policy
from support.agent.schemas import ACTION_TOOLS, CATEGORIES, READ_TOOLS, TOOLS
from support.integrations import IntegrationClient, IntegrationError

__all__ = [
    "ACTION_TOOLS",
    "CATEGORIES",
    "READ_TOOLS",
    "TOOLS",
    "ToolRefused",
    "ToolState",
    "handle",
    "normalise_email",
    "valid_email",
]

INPUT_LIMIT = 500  # characters of a refused input kept in the audit log

# RFC 5321-ish: a dot-atom local part and a domain of at least two labels.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"^{_LOCAL}@{_LABEL}(?:\.{_LABEL})+$")


class ToolRefused(ValueError):
    """The call is malformed or outside what this conversation may touch (a tool error)."""


def normalise_email(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    email = value.strip().casefold()
    return email or None


def valid_email(value: str) -> bool:
    return len(value) <= 254 and EMAIL.match(value) is not None


@dataclass
class ToolState:
    """What the tool calls of one run produced, and what they may still touch.

    ``to_json`` / ``from_json`` carry it between durable turn steps (plain JSON).
    """

    integration: IntegrationClient | None
    sender: str | None = None  # the customer's identity: Front's ``from`` (normalised)
    user: dict[str, Any] | None = None  # what lookup returned for the sender
    purchases: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> as returned
    draft_body: str | None = None
    category: str | None = None
    confidence: float | None = None
    action_type: str | None = None
    action_parameters: dict[str, Any] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    integration_failed: bool = False
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @classmethod
    def for_context(
        cls, context: dict[str, Any], integration: IntegrationClient | None
    ) -> ToolState:
        """The first state of a run: the sender, and what gather-context read for them."""
        state = cls(integration=integration, sender=normalise_email(context.get("senderEmail")))
        user = context.get("user")
        if (
            state.sender
            and isinstance(user, dict)
            and normalise_email(user.get("email")) in (state.sender, None)
            and user.get("id") is not None
        ):
            state.user = user
            state.remember(context.get("purchases"))
        return state

    def remember(self, purchases: Any) -> None:
        if not isinstance(purchases, list):
            return
        for p in purchases:
            if isinstance(p, dict) and isinstance(p.get("id"), str | int):
                self.purchases[str(p["id"])] = p

    def to_json(self) -> dict[str, Any]:
        """Every field but the client and the clock, camelCase (``from_json`` reads them back)."""
        return {
            to_camel(f.name): getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("integration", "now")
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], integration: IntegrationClient | None) -> ToolState:
        return cls(
            integration=integration,
            sender=data.get("sender"),
            user=data.get("user"),
            purchases=dict(data.get("purchases") or {}),
            draft_body=data.get("draftBody"),
            category=data.get("category"),
            confidence=data.get("confidence"),
            action_type=data.get("actionType"),
            action_parameters=dict(data.get("actionParameters") or {}),
            used=list(data.get("used") or []),
            refusals=list(data.get("refusals") or []),
            integration_failed=bool(data.get("integrationFailed")),
        )


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ToolRefused(f"{name} must be a non-empty string")
    return value.strip()


def _amount(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolRefused("amount must be a whole number of cents")
    if isinstance(value, float) and not value.is_integer():
        raise ToolRefused("amount must be a whole number of cents")
    if value <= 0:
        raise ToolRefused("amount must be a positive whole number of cents")
    return int(value)


def _snapshot(purchase: dict[str, Any]) -> dict[str, Any]:
    """The purchase as the integration returned it (what the approver is shown)."""
    keys = ("id", "product", "amount", "currency", "purchased_at", "status")
    return {k: purchase.get(k) for k in keys if k in purchase}


def _purchase(state: ToolState, data: dict[str, Any]) -> dict[str, Any]:
    purchase_id = _text(data, "purchase_id")
    purchase = state.purchases.get(str(purchase_id))
    if purchase is None:
        known = ", ".join(sorted(state.purchases)) or "none (call get_purchases first)"
        raise ToolRefused(
            f"purchase {purchase_id} is not one of this customer's purchases "
            f"(known purchases: {known})"
        )
    status = str(purchase.get("status") or "").lower()
    if status in policy.CLOSED_PURCHASE_STATUSES:
        raise ToolRefused(f"purchase {purchase_id} is {status}: nothing to refund or transfer")
    return purchase


def _refund(state: ToolState, data: dict[str, Any]) -> dict[str, Any]:
    purchase = _purchase(state, data)
    reason = _text(data, "reason")
    paid = purchase.get("amount")
    if isinstance(paid, bool) or not isinstance(paid, int) or paid <= 0:
        raise ToolRefused("the app did not report what was paid for this purchase: escalate")
    amount = _amount(data.get("amount"))
    amount = paid if amount is None else amount
    if amount > paid:
        raise ToolRefused(f"amount {amount} is more than was paid ({paid} cents)")
    currency = str(purchase.get("currency") or "").lower()
    asked = _text(data, "currency", required=False)
    if asked is not None and asked.lower() != currency:
        raise ToolRefused(f"the purchase was paid in {currency or 'an unknown currency'}")
    age = policy.days_since(purchase.get("purchased_at"), state.now)
    if age is None:
        raise ToolRefused("the purchase date is unknown: escalate to a human instead")
    if age > policy.REFUND_WINDOW_DAYS:
        raise ToolRefused(
            f"the purchase is {age} days old, outside the {policy.REFUND_WINDOW_DAYS}-day "
            "refund window: do not promise a refund; escalate to a human if there is a case "
            "for an exception"
        )
    return {
        "purchase_id": str(purchase["id"]),
        "reason": reason,
        "amount": amount,
        "currency": currency,
        "purchase": _snapshot(purchase),
    }


def _transfer(state: ToolState, data: dict[str, Any]) -> dict[str, Any]:
    purchase = _purchase(state, data)
    to_email = _text(data, "to_email")
    assert to_email is not None
    if not valid_email(to_email):
        raise ToolRefused("to_email must be a valid email address")
    owners = {state.sender, normalise_email((state.user or {}).get("email"))}
    if normalise_email(to_email) in owners:
        raise ToolRefused("to_email is the owner's own address: nothing to transfer")
    return {
        "purchase_id": str(purchase["id"]),
        "to_email": to_email,
        "purchase": _snapshot(purchase),
    }


def _parameters(state: ToolState, name: str, data: dict[str, Any]) -> dict[str, Any]:
    if name == "process_refund":
        return _refund(state, data)
    if name == "transfer_purchase":
        return _transfer(state, data)
    if name == "assign_to_instructor":
        return {"reason": _text(data, "reason")}
    urgency = data.get("urgency") if data.get("urgency") in ("low", "normal", "high") else "normal"
    return {"reason": _text(data, "reason"), "urgency": urgency}


def handle(state: ToolState, name: str, data: Any) -> tuple[str, bool]:
    """Run one tool call; returns (tool_result content, is_error). Refusals are recorded."""
    state.used.append(name)
    try:
        if not isinstance(data, dict):
            raise ToolRefused("input must be an object")
        if name in READ_TOOLS:
            return _read_only(state, name, data)
        if name == "draft_response":
            state.draft_body = _text(data, "body")
            category = data.get("category")
            state.category = category if category in CATEGORIES else state.category
            confidence = data.get("confidence")
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                state.confidence = max(0.0, min(1.0, float(confidence)))
            return "Draft saved. It will be put on the conversation for review.", False
        if name in ACTION_TOOLS:
            return _propose(state, name, data)
        raise ToolRefused(f"unknown tool {name}")
    except ToolRefused as exc:
        state.refusals.append(
            {
                "tool": name,
                "input": json.dumps(data, default=str, sort_keys=True)[:INPUT_LIMIT],
                "reason": str(exc),
            }
        )
        return f"refused: {exc}", True


def _propose(state: ToolState, name: str, data: dict[str, Any]) -> tuple[str, bool]:
    action_type = ACTION_TOOLS[name]
    params = _parameters(state, name, data)
    if state.action_type is not None:
        if state.action_type == action_type and state.action_parameters == params:
            return f"{action_type} is already proposed; nothing changed.", False
        raise ToolRefused(f"only one action per message: {state.action_type} is already proposed")
    state.action_type, state.action_parameters = action_type, params
    return (
        f"Proposed {action_type}. Nothing has been done yet: a person may need to "
        "approve it. Write the customer reply accordingly (never say it is done).",
        False,
    )


def _read_only(state: ToolState, name: str, data: dict[str, Any]) -> tuple[str, bool]:
    if name == "lookup_user":
        email = normalise_email(_text(data, "email"))
        if state.sender is None:
            raise ToolRefused(
                "the sender of this message could not be confirmed: no account data; "
                "escalate to a human if the request needs the account"
            )
        if email != state.sender:
            raise ToolRefused(
                f"only the customer who sent this message ({state.sender}) can be looked up"
            )
    else:
        user_id = _text(data, "user_id")
        if state.user is None:
            raise ToolRefused("look the customer up first (lookup_user with the sender's email)")
        if user_id != str(state.user.get("id")):
            raise ToolRefused("purchases can only be listed for the customer lookup_user returned")
    if state.integration is None:
        return "the app's integration API is not configured", True
    try:
        if name == "lookup_user":
            user = state.integration.lookup_user(str(state.sender))
            if user is not None and user.get("id") is not None:
                state.user = user
            return json.dumps({"user": user}), False
        assert state.user is not None
        purchases = state.integration.get_purchases(str(state.user["id"]))
        state.remember(purchases)
        return json.dumps({"purchases": purchases}), False
    except IntegrationError as exc:
        state.integration_failed = True
        return f"the app's API failed: {exc}", True
