"""``POST /webhooks/front``: verify, parse, and turn a Front delivery into one Inngest event.

The event id is Front's event id, so Front's retries of the same delivery start no second run
(Inngest drops an id it has seen in 24 h). No model or Front API call happens here: the answer is
fast, and if the event cannot be sent the answer is 503 so Front delivers again (nothing is lost).
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, jsonify, request

from support import apps, front_webhook, inngest_client
from support.config import Config
from support.events import InboundReceived, OutboundSent
from support.web.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("front", __name__)


def _config() -> Config:
    config: Config = current_app.extensions["support.config"]
    return config


@bp.post("/webhooks/front")
def front_webhook_door() -> Response | tuple[Response, int]:
    config = _config()
    if not config.front_webhook_secret:
        return error_response(503, "not_configured", "FRONT_WEBHOOK_SECRET is not set")
    body = request.get_data(cache=True)
    try:
        front_webhook.verify(
            config.front_webhook_secret,
            body,
            request.headers.get("X-Front-Request-Timestamp"),
            request.headers.get("X-Front-Signature"),
        )
    except front_webhook.SignatureError as exc:
        log.warning("front.webhook.rejected reason=%s", exc)
        return error_response(401, "bad_signature", str(exc))

    challenge = request.headers.get("X-Front-Challenge")
    if challenge:
        return Response(challenge, status=200, mimetype="text/plain")

    try:
        delivery = front_webhook.parse(json.loads(body))
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, front_webhook.PayloadError):
            return error_response(400, "bad_payload", str(exc))
        return error_response(400, "bad_json", "body is not valid JSON")

    if delivery.kind == "sync":
        return jsonify(ok=True, type="sync")
    if delivery.kind == "other":
        return jsonify(ok=True, ignored=delivery.event_type)
    event_id, conversation_id, message_id = delivery.ids()
    if delivery.kind == "outbound":
        return _send(OutboundSent(conversation_id=conversation_id, message_id=message_id), delivery)

    owner = apps.inbox_owner(delivery.inbox_ids)
    if owner is None:
        log.info(
            "front.webhook.no_app event_id=%s inbox_ids=%s",
            delivery.event_id,
            ",".join(delivery.inbox_ids),
        )
        return jsonify(ok=True, ignored="no app for inbox")
    app_id, inbox_id = owner
    event = InboundReceived(
        conversation_id=conversation_id,
        message_id=message_id,
        app_id=app_id,
        inbox_id=inbox_id,
        front_event_id=event_id,
        subject=delivery.subject,
        message_body=delivery.message_body,
        customer_email=delivery.customer_email,
    )
    return _send(event, delivery)


def _send(
    event: InboundReceived | OutboundSent, delivery: front_webhook.Delivery
) -> Response | tuple[Response, int]:
    try:
        inngest_client.send(event.to_event(event_id=delivery.ids()[0]))
    except Exception:
        log.exception(
            "front.webhook.send_failed event_id=%s conversation_id=%s",
            delivery.event_id,
            delivery.conversation_id,
        )
        return error_response(503, "event_not_sent", "could not reach Inngest; Front will retry")
    log.info(
        "front.webhook.accepted event=%s event_id=%s conversation_id=%s",
        event.NAME,
        delivery.event_id,
        delivery.conversation_id,
    )
    return jsonify(ok=True, event=event.NAME, id=delivery.event_id)
