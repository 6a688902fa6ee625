"""The Bolt app behind ``POST /slack/events``, built on first use (never at import), one per Flask
app (kept in ``app.extensions``).

``process_before_response=True``: Bolt's default thread runner polls for ``ack()`` and holds the
worker (p99 ~300 ms measured); with it, the acked part runs inline and must stay fast.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.flask import SlackRequestHandler

from slack import listeners
from slack.messages import web_client
from support.config import Config

log = logging.getLogger(__name__)

PAYLOAD_SHAPE_ERRORS = (KeyError, TypeError, AttributeError, IndexError)
EXTENSION = "slack.bolt"

_lock = threading.Lock()


def build_app(config: Config) -> App:
    app = App(
        signing_secret=config.slack_signing_secret,
        client=web_client(config),
        process_before_response=True,
        token_verification_enabled=False,
        # slack/door.py verifies every request's signature (and its age) before Bolt sees it, and
        # is the only way in: a second HMAC here would only cost CPU on every click.
        request_verification_enabled=False,
        logger=logging.getLogger("slack.bolt"),
    )

    @app.error
    def on_error(error: Exception, body: Any) -> BoltResponse | None:
        kind = body.get("type") if isinstance(body, dict) else None
        if isinstance(error, PAYLOAD_SHAPE_ERRORS):
            # A signed payload whose fields are missing or of the wrong type: Slack never sends
            # those, so it is a bad request, not our failure. The traceback still goes to the log.
            log.warning("slack.payload_unreadable type=%s", kind, exc_info=error)
            return BoltResponse(status=400, body="unreadable Slack payload")
        log.exception("slack.listener_error type=%s", kind, exc_info=error)
        return None

    listeners.register(app, config)
    return app


def handler(flask_app: Flask, config: Config) -> SlackRequestHandler:
    """The Flask app's Bolt handler, built on its first Slack request."""
    found: SlackRequestHandler | None = flask_app.extensions.get(EXTENSION)
    if found is None:
        with _lock:
            found = flask_app.extensions.get(EXTENSION)
            if found is None:
                found = SlackRequestHandler(build_app(config))
                flask_app.extensions[EXTENSION] = found
    return found
