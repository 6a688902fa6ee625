"""The baseline: a bare Flask app doing the minimum each door must do, served like the real one.

``gunicorn benchmarks.bare_app:app -c gunicorn.conf.py``. Each route verifies the same signature
the real door verifies (same secret, same scheme), parses the body, and answers; nothing else: no
Bolt, no Inngest SDK, no database, no event sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

from flask import Response, jsonify, request

from benchmarks.served import plain_flask

app = plain_flask(__name__)

SLACK_SECRET = os.environ.get("SLACK_SIGNING_SECRET", "")
FRONT_SECRET = os.environ.get("FRONT_WEBHOOK_SECRET", "")


@app.post("/slack/events")
def slack() -> tuple[str, int]:
    body = request.get_data()
    ts = request.headers.get("X-Slack-Request-Timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return "", 401
    mac = hmac.new(SLACK_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    if not hmac.compare_digest(
        "v0=" + mac.hexdigest(), request.headers.get("X-Slack-Signature", "")
    ):
        return "", 401
    return "", 200


@app.post("/webhooks/front")
def front() -> Response | tuple[str, int]:
    body = request.get_data()
    ts = request.headers.get("X-Front-Request-Timestamp", "")
    if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > 300_000:
        return "", 401
    mac = hmac.new(FRONT_SECRET.encode(), ts.encode() + b":" + body, hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    if not hmac.compare_digest(expected, request.headers.get("X-Front-Signature", "")):
        return "", 401
    envelope = json.loads(body)
    return jsonify(ok=True, id=envelope["payload"]["id"])


@app.post("/api/inngest")
def inngest_call() -> tuple[Response, int]:
    call = json.loads(request.get_data())
    step = {"id": "0" * 40, "op": "StepRun", "data": {"runId": call["ctx"]["run_id"]}}
    return jsonify([step]), 206
