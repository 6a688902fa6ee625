"""``POST /slack/events``: Slack interactivity and events, verified here, then dispatched by Bolt.

The signature is checked before Bolt sees the request: Bolt 1.30 parses the body (and slack_sdk reads
the timestamp with ``int()``) before or while verifying it, so unsigned garbage could reach a 500.
Here a bad signature is a 401 before any parsing, and a signed body Bolt cannot make sense of is a
400. Bolt's own verification is turned off (``slack/bolt_app.py``): this door is the only way to the
Bolt app, so a second HMAC would only cost CPU.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time

from flask import Blueprint, Response, current_app, request

from support.config import Config
from support.web.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("slack", __name__)

MAX_AGE_SECONDS = 5 * 60
MALFORMED = (ValueError, TypeError, KeyError, AttributeError, IndexError, RecursionError)


def signature_problem(
    secret: str, body: bytes, timestamp: str | None, signature: str | None
) -> str | None:
    """Why the request is not provably from Slack, or None when it is (v0 HMAC-SHA256)."""
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    if not timestamp.isdigit() or len(timestamp) > 12:
        return "malformed X-Slack-Request-Timestamp"
    if abs(time.time() - int(timestamp)) > MAX_AGE_SECONDS:
        return "stale X-Slack-Request-Timestamp"
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    expected = "v0=" + mac.hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "signature does not match"
    return None


@bp.post("/slack/events")
def slack_events() -> Response | tuple[Response, int]:
    config: Config = current_app.extensions["support.config"]
    missing = config.missing("slack_signing_secret", "slack_bot_token")
    if missing or not config.slack_signing_secret:
        return error_response(503, "not_configured", f"{', '.join(missing)} not set")
    problem = signature_problem(
        config.slack_signing_secret,
        request.get_data(cache=True),
        request.headers.get("X-Slack-Request-Timestamp"),
        request.headers.get("X-Slack-Signature"),
    )
    if problem:
        log.warning("slack.request.rejected reason=%s", problem)
        return error_response(401, "bad_signature", problem)
    from slack.bolt_app import handler

    try:
        response: Response = handler(current_app, config).handle(request)
    except MALFORMED as exc:
        log.warning("slack.request.malformed error=%s", type(exc).__name__)
        return error_response(400, "bad_payload", "Slack payload could not be read")
    return response
