"""The Slack Web API client and the request message, shared by the listeners and the workflows.

``web_client`` builds the bot's client from the configuration; ``update_message`` redraws a
request's channel message from its row (buttons only while pending). Both the Bolt listeners
(``slack/listeners.py``) and the ``request-approval`` workflow use these; neither imports the other.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from slack_sdk import WebClient

from slack import blocks
from support import approvals
from support import config as config_module
from support.config import Config

TIMEOUT_SECONDS = 10


def web_client(config: Config) -> WebClient:
    from slack.error_metrics import retry_handlers

    return WebClient(
        token=config.slack_bot_token,
        base_url=config.slack_api_base_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=retry_handlers(),
    )


def slack_client() -> WebClient:
    """The client for the current configuration (inside a workflow step)."""
    return web_client(config_module.current())


_VIEW_FIELDS = tuple(f.name for f in dataclasses.fields(blocks.RequestView))


def view_of(record: approvals.ApprovalRecord, **changes: Any) -> blocks.RequestView:
    """What the message shows of ``record`` (its fields by name, no JSON round trip), with
    ``changes`` applied."""
    values = {name: getattr(record, name) for name in _VIEW_FIELDS}
    return blocks.RequestView(**{**values, **changes})


def update_message(client: WebClient, record: approvals.ApprovalRecord) -> bool:
    """Redraw the request's channel message from the row (buttons only while pending)."""
    if not (record.slack_channel and record.slack_ts):
        return False
    view = view_of(record)
    client.chat_update(
        channel=record.slack_channel,
        ts=record.slack_ts,
        text=blocks.fallback_text(view),
        blocks=blocks.request_blocks(view),
    )
    return True
