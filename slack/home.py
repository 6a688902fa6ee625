"""App Home: the pending requests, with buttons only for an approver."""

from __future__ import annotations

from slack_sdk import WebClient

from slack import blocks
from slack.messages import view_of
from support import approvals
from support.config import Config
from support.db.models import utcnow


def publish_home(config: Config, client: WebClient, user_id: str) -> None:
    records = approvals.pending_for_home()
    view = blocks.home_view(
        [view_of(r) for r in records],
        utcnow(),
        allowed=not config.slack_approver_ids or user_id in config.slack_approver_ids,
    )
    client.views_publish(user_id=user_id, view=view)
