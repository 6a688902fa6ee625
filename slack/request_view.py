"""``RequestView``: everything a Slack message about one approval shows, as plain data (no ORM
objects); ``slack/blocks.py`` renders it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

FRONT_URL = "https://app.frontapp.com/open/{conversation_id}"

TYPE_LABELS = {
    "refund": "Refund",
    "process_refund": "Refund",
    "transfer": "Transfer purchase",
    "transfer_purchase": "Transfer purchase",
    "assign": "Assign to instructor",
    "assign_to_instructor": "Assign to instructor",
    "send_draft": "Send draft",
}


def is_refund(action_type: str) -> bool:
    return action_type in ("refund", "process_refund")


@dataclasses.dataclass(frozen=True)
class RequestView:
    """Everything a message about one approval shows. Plain data: no ORM objects."""

    action_id: str
    action_type: str
    conversation_id: str
    app_name: str = ""
    customer_email: str | None = None
    reasoning: str = ""
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    draft_body: str | None = None
    context_degraded: bool = False
    status: str = "pending"  # approval: pending | approved | rejected | expired
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    reason: str | None = None
    edits: Mapping[str, Any] | None = None
    action_status: str | None = None  # the action's: executing | succeeded | failed ...
    result: Mapping[str, Any] | None = None
    error: str | None = None
    created_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestView:
        """Build from a mapping; unknown keys are ignored, ISO strings become datetimes."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        for key in ("decided_at", "created_at", "expires_at"):
            if isinstance(values.get(key), str):
                values[key] = dt.datetime.fromisoformat(values[key])
        return cls(**values)

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.action_type, self.action_type.replace("_", " ").capitalize())

    @property
    def front_url(self) -> str:
        return FRONT_URL.format(conversation_id=self.conversation_id)
