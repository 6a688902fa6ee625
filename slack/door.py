"""``POST /slack/events``: Slack interactivity and events, verified and dispatched by Bolt."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from support.config import Config
from support.web.errors import error_response

bp = Blueprint("slack", __name__)


@bp.post("/slack/events")
def slack_events() -> Response | tuple[Response, int]:
    config: Config = current_app.extensions["support.config"]
    missing = config.missing("slack_signing_secret", "slack_bot_token")
    if missing:
        return error_response(503, "not_configured", f"{', '.join(missing)} not set")
    from slack.bolt_app import handler

    response: Response = handler(config).handle(request)
    return response
