"""``POST /webhooks/front``: verify, parse, and turn a Front delivery into one Inngest event.

The event id is Front's event id, so Front's retries of the same delivery start no second run
(Inngest drops an id it has seen in 24 h). No model or Front API call happens here: the answer is
fast, and if the event cannot be sent the answer is 503 so Front delivers again (nothing is lost).

Answers: 401 unsigned; 400 signed but unreadable (bad JSON, nested too deep, missing ids); 200
accepted or ignored; 503 only for what a later delivery can fix (Inngest unreachable or slow, the
database unavailable). The send is one bounded attempt (``inngest_client.send_bounded``), so the
answer always comes well within Front's 5 s. Lone surrogates in the text are replaced (U+FFFD).
"""

from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

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
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        if isinstance(exc, front_webhook.PayloadError):
            return error_response(400, "bad_payload", str(exc))
        if isinstance(exc, RecursionError):
            return error_response(400, "bad_json", "body is nested too deeply")
        return error_response(400, "bad_json", "body is not valid JSON")

    if delivery.kind == "sync":
        return jsonify(ok=True, type="sync")
    if delivery.kind == "other":
        return jsonify(ok=True, ignored=delivery.event_type)
    event_id, conversation_id, message_id = delivery.ids()
    if delivery.kind == "outbound":
        return _send(OutboundSent(conversation_id=conversation_id, message_id=message_id), delivery)

    try:
        owner = apps.inbox_owner(delivery.inbox_ids)
    except SQLAlchemyError:
        log.exception("front.webhook.database_error event_id=%s", delivery.event_id)
        return error_response(503, "database_unavailable", "database unavailable; Front will retry")
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
        inngest_client.send_bounded(event.to_event(event_id=delivery.ids()[0]))
    except inngest_client.EventRejected as exc:
        log.error(
            "front.webhook.event_rejected event_id=%s conversation_id=%s error=%s",
            delivery.event_id,
            delivery.conversation_id,
            exc,
        )
        return error_response(422, "event_rejected", str(exc))
    except inngest_client.EventNotSent as exc:
        log.warning(
            "front.webhook.send_failed event_id=%s conversation_id=%s error=%s",
            delivery.event_id,
            delivery.conversation_id,
            exc,
        )
        return error_response(503, "event_not_sent", "could not reach Inngest; Front will retry")
    log.info(
        "front.webhook.accepted event=%s event_id=%s conversation_id=%s",
        event.NAME,
        delivery.event_id,
        delivery.conversation_id,
    )
    return jsonify(ok=True, event=event.NAME, id=delivery.event_id)
