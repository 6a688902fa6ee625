"""The same-work reference: each door's work written as plainly as possible, served like the app.

``gunicorn benchmarks.reference_app:app -c gunicorn.conf.py`` (settings from the environment, the
same names as the service's). Plain Flask, raw PyMySQL (one connection per thread, kept open), one
shared httpx client for events, one slack_sdk ``WebClient`` with dict blocks. Each route does the
work the service's door does for the benchmark's requests, with the same rows, event bodies and
Slack calls (``tests/test_bench_references.py`` runs both against the same fakes and database and
compares them); nothing more (no Bolt, no Inngest SDK, no SQLAlchemy, no pydantic):

* ``POST /slack/events``: an Approve click. Signature, approver check, then ONE transaction (the
  conditional UPDATE that decides, the action's status, the record read, the audit row) committed
  BEFORE the 200 (the durable shape); the two events and ``chat.update`` run after the response in
  a thread pool (as Bolt's lazy listeners do). ``?shape=ack-first`` answers first and does all of it
  after the response (the shape the service had before the durable click).
* ``POST /webhooks/front``: signature, the inbox's app (one equality query), one event.
* ``POST /api/inngest``: the ``ping`` function's one step: one audit row, answered 206 StepRun.

Only the winning click is written out (every benchmark click decides a distinct pending request); a
losing click answers 200 and does nothing after it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pymysql
from flask import Flask, Response, jsonify, request
from slack_sdk import WebClient

from benchmarks.served import plain_flask
from slack.mrkdwn import preview

MAX_AGE_SECONDS = 300

DECIDE = (
    "UPDATE approval_requests SET status=%s, decided_by=%s, decided_at=%s, reason=NULL, "
    "edits='null' WHERE id=%s AND status='pending' AND (expires_at IS NULL OR expires_at > %s)"
)
ACTION_STATUS = "UPDATE actions SET status=%s WHERE id=%s"
RECORD = (
    "SELECT r.status, r.decided_by, r.decided_at, r.slack_channel, r.slack_ts, a.type, "
    "a.conversation_id, a.customer_email, a.reasoning, a.parameters, a.draft_body, p.name "
    "FROM approval_requests r JOIN actions a ON a.id = r.id JOIN apps p ON p.id = a.app_id "
    "WHERE r.id=%s"
)
AUDIT = (
    "INSERT INTO audit_log (action_id, conversation_id, event, actor, detail, created_at) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)
INBOX_APP = "SELECT id FROM apps WHERE front_inbox_id=%s"
PING_STEP_ID = hashlib.sha1(b"record-ping").hexdigest()
SLACK_HEADERS = ("X-Slack-Request-Timestamp", "X-Slack-Signature")
FRONT_HEADERS = ("X-Front-Request-Timestamp", "X-Front-Signature")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class Database:
    """One PyMySQL connection per thread, opened on first use; dropped after an error (so a
    restarted server costs the one request that found the connection dead)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url.replace("mysql+pymysql://", "mysql://", 1))
        self.params: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or 3306,
            "user": unquote(parts.username or "root"),
            "password": unquote(parts.password or ""),
            "database": parts.path.lstrip("/"),
            "charset": "utf8mb4",
            "connect_timeout": 5,
        }
        self.local = threading.local()

    def connection(self) -> pymysql.connections.Connection[Any]:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = pymysql.connect(**self.params)
            self.local.conn = conn
        return conn

    def transaction(self, work: Any, *args: Any) -> Any:
        conn = self.connection()
        try:
            with conn.cursor() as cur:
                result = work(cur, *args)
            conn.commit()
            return result
        except Exception:
            self.local.conn = None
            with contextlib.suppress(Exception):  # already broken
                conn.close()
            raise


def slack_signature_ok(secret: str, body: bytes, ts: str, signature: str) -> bool:
    if not ts.isdigit() or abs(time.time() - int(ts)) > MAX_AGE_SECONDS:
        return False
    mac = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(("v0=" + mac.hexdigest()).encode(), signature.encode())


def front_signature_ok(secret: str, body: bytes, ts: str, signature: str) -> bool:
    if not ts.isdigit() or abs(time.time() * 1000 - int(ts)) > MAX_AGE_SECONDS * 1000:
        return False
    mac = hmac.new(secret.encode(), ts.encode() + b":" + body, hashlib.sha256)
    return hmac.compare_digest(base64.b64encode(mac.digest()).decode(), signature)


def signed(
    check: Callable[[str, bytes, str, str], bool], secret: str, body: bytes, names: tuple[str, str]
) -> bool:
    """``check`` the signature of ``body`` with the request's timestamp and signature headers."""
    timestamp, signature = names
    return check(
        secret, body, request.headers.get(timestamp, ""), request.headers.get(signature, "")
    )


# ---------------------------------------------------------------- the click


def decide(cur: Any, action_id: str, user: str) -> dict[str, Any] | None:
    """The decision's transaction; the record (as committed) for the winner, else None."""
    moment = utcnow()
    cur.execute(DECIDE, ("approved", user, moment, action_id, moment))
    if cur.rowcount != 1:
        return None
    cur.execute(ACTION_STATUS, ("approved", action_id))
    cur.execute(RECORD, (action_id,))
    row = cur.fetchone()
    names = [
        "status",
        "decided_by",
        "decided_at",
        "slack_channel",
        "slack_ts",
        "type",
        "conversation_id",
        "customer_email",
        "reasoning",
        "parameters",
        "draft_body",
        "app_name",
    ]
    record = dict(zip(names, row, strict=True))
    record["action_id"] = action_id
    record["parameters"] = json.loads(record["parameters"] or "{}")
    detail = {"decision": "approved", "decidedAt": moment.isoformat()}
    cur.execute(
        AUDIT,
        (
            action_id,
            record["conversation_id"],
            "approval.approved",
            user,
            json.dumps(detail),
            moment,
        ),
    )
    return record


def slack_date(moment: dt.datetime) -> str:
    aware = moment.replace(tzinfo=dt.UTC)
    fallback = aware.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mrkdwn_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def decided_message(r: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """``chat.update``'s text and blocks for an approved request (no edits, not executed yet)."""
    who = r["customer_email"] or "unknown customer"
    label = "Refund" if r["type"] in ("refund", "process_refund") else r["type"]
    status = (
        f":white_check_mark: Approved by <@{r['decided_by']}> at {slack_date(r['decided_at'])}"
        "\n:gear: Execution pending…"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{label} for {who}"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"*App:* {r['app_name']}  ·  *Customer:* {who}  ·  "
                    f"*Action:* `{r['action_id']}`",
                }
            ],
        },
    ]
    if r["reasoning"]:
        quoted = "\n".join("> " + line for line in r["reasoning"].splitlines())
        blocks.append(mrkdwn_section("*Why:*\n" + quoted))
    if r["parameters"]:
        code = json.dumps(r["parameters"], indent=2, sort_keys=True, default=str)
        blocks.append(mrkdwn_section("*Parameters:*\n```" + code + "```"))
    if r["draft_body"]:
        # the same Markdown-to-mrkdwn conversion Slack needs (a string function, no framework)
        blocks.append(mrkdwn_section("*Draft reply:*\n" + preview(r["draft_body"], 2980)))
    blocks.append({"type": "divider"})
    blocks.append(mrkdwn_section(status))
    url = f"https://app.frontapp.com/open/{r['conversation_id']}"
    blocks.append(
        {
            "type": "actions",
            "block_id": "links",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open_in_front",
                    "text": {"type": "plain_text", "text": "Open in Front", "emoji": True},
                    "url": url,
                }
            ],
        }
    )
    return f"{label} for {who}: {status}", blocks


def decision_events(r: dict[str, Any]) -> list[dict[str, Any]]:
    at = r["decided_at"].isoformat() + "Z"
    ts = int(time.time() * 1000)
    action_id = r["action_id"]
    return [
        {
            "data": {
                "actionId": action_id,
                "decision": "approved",
                "decidedBy": r["decided_by"],
                "decidedAt": at,
            },
            "id": f"approval-decided-{action_id}",
            "name": "support/approval.decided",
            "ts": ts,
        },
        {
            "data": {"actionId": action_id, "by": r["decided_by"], "at": at},
            "id": f"action-approved-{action_id}",
            "name": "action/approved",
            "ts": ts,
        },
    ]


# ---------------------------------------------------------------- the app


def create_app(env: Mapping[str, str]) -> Flask:
    app = plain_flask(__name__)
    slack_secret = env.get("SLACK_SIGNING_SECRET", "")
    front_secret = env.get("FRONT_WEBHOOK_SECRET", "")
    approvers = {a for a in env.get("SLACK_APPROVER_IDS", "").split(",") if a}
    team = env.get("SLACK_TEAM_ID", "")
    db = Database(env.get("DATABASE_URL", "mysql+pymysql://root@127.0.0.1:3306/"))
    events_url = env.get("INNGEST_BASE_URL", "http://127.0.0.1:8288").rstrip("/")
    events_url += "/e/" + env.get("INNGEST_EVENT_KEY", "NO_EVENT_KEY_SET")
    http = httpx.Client(timeout=5)
    slack = WebClient(
        token=env.get("SLACK_BOT_TOKEN", ""),
        base_url=env.get("SLACK_API_BASE_URL", "https://slack.com/api/"),
        timeout=10,
    )
    after = ThreadPoolExecutor(max_workers=8, thread_name_prefix="after-response")

    def send_events(events: list[dict[str, Any]]) -> None:
        http.post(events_url, json=events).raise_for_status()

    def announce(record: dict[str, Any]) -> None:
        send_events(decision_events(record))
        text, blocks = decided_message(record)
        slack.chat_update(
            channel=record["slack_channel"], ts=record["slack_ts"], text=text, blocks=blocks
        )

    def decide_then_announce(action_id: str, user: str) -> None:
        record = db.transaction(decide, action_id, user)
        if record is not None:
            announce(record)

    @app.post("/slack/events")
    def click() -> tuple[str, int]:
        body = request.get_data()
        if not signed(slack_signature_ok, slack_secret, body, SLACK_HEADERS):
            return "", 401
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        user = payload["user"]["id"]
        action_id = payload["actions"][0]["value"]
        if (team and payload["team"]["id"] != team) or (approvers and user not in approvers):
            return "", 200  # (the service tells the user ephemerally; not benchmarked)
        if request.args.get("shape") == "ack-first":
            after.submit(decide_then_announce, action_id, user)
            return "", 200
        record = db.transaction(decide, action_id, user)  # committed before the answer
        if record is not None:
            after.submit(announce, record)
        return "", 200

    @app.post("/webhooks/front")
    def front() -> Response | tuple[str, int]:
        body = request.get_data()
        if not signed(front_signature_ok, front_secret, body, FRONT_HEADERS):
            return "", 401
        payload = json.loads(body)["payload"]
        message = payload["target"]["data"]
        inbox_id = payload["source"]["data"][0]["id"]

        def owner(cur: Any) -> int | None:
            cur.execute(INBOX_APP, (inbox_id,))
            row = cur.fetchone()
            return None if row is None else int(row[0])

        app_id = db.transaction(owner)
        if app_id is None:
            return jsonify(ok=True, ignored="no app for inbox")
        email = next(
            (
                r["handle"]
                for role in ("reply-to", "from")
                for r in message["recipients"]
                if r["role"] == role
            ),
            None,
        )
        data = {
            "conversationId": payload["conversation"]["id"],
            "messageId": message["id"],
            "appId": app_id,
            "inboxId": inbox_id,
            "frontEventId": payload["id"],
            "subject": message.get("subject") or payload["conversation"].get("subject"),
            "messageBody": message.get("text") or message.get("body"),
            "customerEmail": email,
        }
        event = {
            "data": {k: v for k, v in data.items() if v is not None},
            "id": payload["id"],
            "name": "front/inbound_received",
            "ts": int(time.time() * 1000),
        }
        try:
            send_events([event])
        except httpx.HTTPError:
            return "", 503
        return jsonify(ok=True, event="front/inbound_received", id=payload["id"])

    @app.post("/api/inngest")
    def step_call() -> tuple[Response, int]:
        call = json.loads(request.get_data())
        run_id = call["ctx"]["run_id"]
        requested_by = call["event"]["data"].get("requestedBy", "cli")

        def record_ping(cur: Any) -> int:
            cur.execute(
                AUDIT,
                (None, None, "inngest.ping", requested_by, json.dumps({"runId": run_id}), utcnow()),
            )
            return int(cur.lastrowid)

        audit_id = db.transaction(record_ping)
        step = {
            "id": PING_STEP_ID,
            "op": "StepRun",
            "name": "record-ping",
            "displayName": "record-ping",
            "data": audit_id,
            "opts": None,
            "userland": {"id": "record-ping", "index": None},
        }
        return jsonify([step]), 206

    return app


app = create_app(os.environ)
