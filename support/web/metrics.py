"""``GET /metrics`` for Prometheus, and the door counters every request feeds.

``/metrics`` exists only when ``METRICS_TOKEN`` is set (404 otherwise) and answers only a request
carrying ``Authorization: Bearer <METRICS_TOKEN>`` (compared in constant time; 401 otherwise).

The door metrics are counted here, once per request, from the answer each door gives (its status
and the ``error`` code of the JSON error body), so the doors themselves carry no metrics code.
"""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, current_app, g, request

from support import metrics
from support.config import Config
from support.web.errors import error_response

bp = Blueprint("metrics", __name__)

DOORS = {"front": "front", "slack": "slack"}
INNGEST_PATH = "/api/inngest"


def _door() -> str | None:
    if request.blueprint in DOORS:
        return DOORS[request.blueprint]
    if request.path == INNGEST_PATH:
        return "inngest"
    return None


@bp.before_app_request
def _start_clock() -> None:
    if metrics.enabled():
        g.metrics_started = time.perf_counter()


@bp.after_app_request
def _count_door(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is None:
        return response
    name = _door()
    if name is not None:
        code = None
        if response.status_code >= 400 and response.is_json:
            body = response.get_json(silent=True)
            error = body.get("error") if isinstance(body, dict) else None
            code = error if isinstance(error, str) else None
        metrics.door_response(name, response.status_code, code, time.perf_counter() - started)
    return response


def _authorized(token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics_endpoint() -> Response | tuple[Response, int]:
    config: Config = current_app.extensions["support.config"]
    if not config.metrics_token:
        return error_response(404, "not_found", "metrics are off (METRICS_TOKEN is not set)")
    if not _authorized(config.metrics_token):
        response, status = error_response(401, "unauthorized", "Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response, status
    return Response(metrics.render(), mimetype=None, content_type=metrics.CONTENT_TYPE)
