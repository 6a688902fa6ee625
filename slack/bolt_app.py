"""The Bolt app behind ``POST /slack/events``, built on first use (never at import).

``process_before_response=True``: Bolt's default thread runner polls for ``ack()`` and holds the
worker (p99 ~300 ms measured); with it, the acked part runs inline and must stay fast.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk import WebClient

from support.config import Config

log = logging.getLogger(__name__)

_lock = threading.Lock()
_handlers: dict[int, SlackRequestHandler] = {}


def web_client(config: Config) -> WebClient:
    return WebClient(token=config.slack_bot_token, base_url=config.slack_api_base_url, timeout=10)


def build_app(config: Config) -> App:
    app = App(
        signing_secret=config.slack_signing_secret,
        client=web_client(config),
        process_before_response=True,
        token_verification_enabled=False,
        logger=logging.getLogger("slack.bolt"),
    )

    @app.error
    def on_error(error: Exception, body: dict[str, Any]) -> None:
        log.exception("slack.listener_error type=%s", body.get("type"), exc_info=error)

    from slack import listeners

    listeners.register(app, config)
    return app


def handler(config: Config) -> SlackRequestHandler:
    key = id(config)
    found = _handlers.get(key)
    if found is None:
        with _lock:
            found = _handlers.get(key)
            if found is None:
                found = SlackRequestHandler(build_app(config))
                _handlers[key] = found
    return found
