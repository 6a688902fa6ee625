"""Who decides: the approval policy per app and the trust gate for sending drafts unattended.

Approval: safe actions (``escalate``) never need a human. Risky ones (refund, transfer, assign to an
instructor) need one unless the app's ``approval_required`` list names the types that do; ``None``
(the default) means every risky action needs approval.

Auto-send: off unless the app enabled it AND its trust score for the draft's category is above
``MIN_SCORE`` over at least ``MIN_SAMPLES`` samples AND the model's confidence is above
``MIN_CONFIDENCE`` AND the category is not one a human must always read (``NEVER_AUTO_SEND``).

Refunds: the agent may propose one only inside ``REFUND_WINDOW_DAYS`` of the purchase, on a purchase
that is not closed (``CLOSED_PURCHASE_STATUSES``); older cases go to a human (``support.agent.tools``
enforces this in code).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from support import db
from support.db.models import App, TrustScore

RISKY_ACTIONS = frozenset({"refund", "transfer", "assign_to_instructor"})
SAFE_ACTIONS = frozenset({"escalate"})
ACTION_TYPES = RISKY_ACTIONS | SAFE_ACTIONS

MIN_SCORE = 0.85
MIN_SAMPLES = 50
MIN_CONFIDENCE = 0.9
NEVER_AUTO_SEND = frozenset(
    {"angry_customer", "legal", "refund", "chargeback", "security", "escalation", "unknown"}
)

REFUND_WINDOW_DAYS = 30
CLOSED_PURCHASE_STATUSES = frozenset(
    {"refunded", "transferred", "revoked", "chargeback", "disputed", "cancelled"}
)


def days_since(timestamp: Any, now: dt.datetime) -> int | None:
    """Whole days from an ISO 8601 time (``Z`` allowed) to ``now``; None when unreadable."""
    if not isinstance(timestamp, str) or not timestamp.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (now - moment).days


def requires_approval(approval_required: list[str] | None, action_type: str) -> bool:
    if action_type not in ACTION_TYPES:
        return True  # an unknown type is never executed unattended
    if action_type in SAFE_ACTIONS:
        return False
    if approval_required is None:
        return True
    return action_type in approval_required


def may_auto_send(app_id: int, category: str | None, confidence: float | None) -> tuple[bool, str]:
    """(allowed, reason). Reads the app and its trust score in one short session."""
    if not category or category in NEVER_AUTO_SEND:
        return False, f"category {category or 'none'} is always reviewed by a human"
    if confidence is None or confidence <= MIN_CONFIDENCE:
        return False, f"confidence {confidence} is not above {MIN_CONFIDENCE}"
    with db.session() as s:
        app = s.get(App, app_id)
        if app is None or not app.auto_send_enabled:
            return False, "auto-send is not enabled for this app"
        trust = s.scalars(
            select(TrustScore).where(TrustScore.app_id == app_id, TrustScore.category == category)
        ).first()
        if trust is None or trust.samples < MIN_SAMPLES or trust.score <= MIN_SCORE:
            return False, f"trust for {category} is below the gate"
    return True, "trusted"
