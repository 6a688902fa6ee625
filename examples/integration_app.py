"""A reference implementation of the support integration API (docs/integration-api.md).

Copy it and replace the SQLite tables with your product's own data. Everything the contract asks
for is here, in the order a request meets it:

1. ``verify_signature``: ``X-Support-Signature: t=<unix seconds>,v1=<hex>`` over the *raw* body
   bytes, HMAC-SHA256 with the shared secret, compared in constant time; ``|now - t| > 300`` s,
   a missing or malformed header, or no matching ``v1`` -> 401. Nothing is parsed before this.
2. The body must be a JSON object -> otherwise 400.
3. State-changing actions (``revoke-access``, ``transfer-purchase``) need ``Idempotency-Key``
   (-> 400 without). In one transaction: a stored answer for the key is returned as it was (409
   when the key comes with a different action or body); otherwise the change is applied and its
   answer stored *in the same transaction*, so a crash cannot apply without storing or store
   without applying. Answers of 5xx are not stored (the caller retries them).
4. The action's own checks: missing fields 400, unknown ids 404, conflicts 409.

Run it (a demo with one user and one purchase)::

    SUPPORT_INTEGRATION_SECRET=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\
        python examples/integration_app.py --seed --port 8100

then register it: ``flask --app app apps add ... --integration-url http://127.0.0.1:8100
--integration-secret "$SUPPORT_INTEGRATION_SECRET"`` and check it: ``flask --app app apps check
<slug>``.

Only Flask and the standard library are used.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, Response, request

SIGNATURE_HEADER = "X-Support-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300
STATE_CHANGING = frozenset({"revoke-access", "transfer-purchase"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, name TEXT NOT NULL,
    created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS purchases (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), product TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, purchased_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active');
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, purchase_id TEXT NOT NULL, amount INTEGER NOT NULL,
    currency TEXT NOT NULL, reason TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transfers (
    id TEXT PRIMARY KEY, purchase_id TEXT NOT NULL, from_user_id TEXT NOT NULL,
    to_user_id TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS magic_links (
    token TEXT PRIMARY KEY, user_id TEXT NOT NULL, expires_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, action TEXT NOT NULL, request_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);
"""


class Refusal(Exception):
    """An answer other than 200: ``raise Refusal(404, "purchase not found")``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def verify_signature(
    secret: str, header: str | None, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now."""
    if not header:
        return False
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not timestamp.isdigit() or not candidates:
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


# --- the actions: (connection, request data) -> answer; raise Refusal for anything but 200 -------


def required(data: dict[str, Any], *fields: str) -> None:
    for field in fields:
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise Refusal(400, f"missing field: {field}")


def user_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "email": row["email"],
        "name": row["name"],
        "created_at": row["created_at"],
    }


def purchase_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        key: row[key] for key in ("id", "product", "amount", "currency", "purchased_at", "status")
    }


def lookup_user(db: sqlite3.Connection, data: dict[str, Any]) -> dict[str, Any]:
    required(data, "email")
    row = db.execute("SELECT * FROM users WHERE email = ?", (data["email"],)).fetchone()
    return {"user": user_json(row) if row else None}


def get_purchases(db: sqlite3.Connection, data: dict[str, Any]) -> dict[str, Any]:
    required(data, "user_id")
    rows = db.execute(
        "SELECT * FROM purchases WHERE user_id = ? ORDER BY purchased_at, id", (data["user_id"],)
    ).fetchall()
    return {"purchases": [purchase_json(r) for r in rows]}  # unknown user: an empty list


def revoke_access(db: sqlite3.Connection, data: dict[str, Any]) -> dict[str, Any]:
    required(data, "purchase_id", "reason")
    purchase = db.execute("SELECT * FROM purchases WHERE id = ?", (data["purchase_id"],)).fetchone()
    if purchase is None:
        raise Refusal(404, "purchase not found")
    if purchase["status"] == "refunded":
        raise Refusal(409, "already refunded")
    amount = data.get("amount", purchase["amount"])
    if type(amount) is not int or not 0 < amount <= purchase["amount"]:
        raise Refusal(400, f"invalid amount {amount!r} (price {purchase['amount']})")
    refund_id = "re_" + secrets.token_hex(8)
    db.execute("UPDATE purchases SET status = 'refunded' WHERE id = ?", (purchase["id"],))
    db.execute(
        "INSERT INTO refunds VALUES (?, ?, ?, ?, ?, ?)",
        (
            refund_id,
            purchase["id"],
            amount,
            purchase["currency"],
            data["reason"],
            iso(datetime.now(UTC)),
        ),
    )
    return {
        "refund_id": refund_id,
        "amount": amount,
        "currency": purchase["currency"],
        "status": "refunded",
    }


def transfer_purchase(db: sqlite3.Connection, data: dict[str, Any]) -> dict[str, Any]:
    required(data, "purchase_id", "to_email")
    purchase = db.execute("SELECT * FROM purchases WHERE id = ?", (data["purchase_id"],)).fetchone()
    if purchase is None:
        raise Refusal(404, "purchase not found")
    if purchase["status"] != "active":
        raise Refusal(409, f"purchase is {purchase['status']}")
    target = db.execute("SELECT * FROM users WHERE email = ?", (data["to_email"],)).fetchone()
    if target is None:  # the recipient gets an account, as a gift would give them
        to_user = {"id": "usr_" + secrets.token_hex(6), "email": data["to_email"]}
        db.execute(
            "INSERT INTO users VALUES (?, ?, ?, ?)",
            (
                to_user["id"],
                to_user["email"],
                to_user["email"].split("@")[0],
                iso(datetime.now(UTC)),
            ),
        )
    else:
        to_user = {"id": target["id"], "email": target["email"]}
    transfer_id = "tr_" + secrets.token_hex(8)
    db.execute("UPDATE purchases SET user_id = ? WHERE id = ?", (to_user["id"], purchase["id"]))
    db.execute(
        "INSERT INTO transfers VALUES (?, ?, ?, ?, ?)",
        (transfer_id, purchase["id"], purchase["user_id"], to_user["id"], iso(datetime.now(UTC))),
    )
    return {
        "transfer_id": transfer_id,
        "purchase_id": purchase["id"],
        "from_user_id": purchase["user_id"],
        "to_user_id": to_user["id"],
        "to_email": data["to_email"],
        "status": "transferred",
    }


def generate_magic_link(db: sqlite3.Connection, data: dict[str, Any]) -> dict[str, Any]:
    required(data, "email")
    user = db.execute("SELECT * FROM users WHERE email = ?", (data["email"],)).fetchone()
    if user is None:
        raise Refusal(404, "user not found")
    token = secrets.token_urlsafe(24)
    expires_at = iso(datetime.now(UTC) + timedelta(minutes=15))
    db.execute("INSERT INTO magic_links VALUES (?, ?, ?)", (token, user["id"], expires_at))
    return {"url": f"{request.host_url.rstrip('/')}/magic/{token}", "expires_at": expires_at}


ACTIONS: dict[str, Callable[[sqlite3.Connection, dict[str, Any]], dict[str, Any]]] = {
    "lookup-user": lookup_user,
    "get-purchases": get_purchases,
    "revoke-access": revoke_access,
    "transfer-purchase": transfer_purchase,
    "generate-magic-link": generate_magic_link,
}


# --- the app ------------------------------------------------------------------------------------


def create_app(database: str, secret: str, *, clock: Callable[[], float] = time.time) -> Flask:
    """The integration API on ``database`` (an SQLite file), signed with ``secret``."""
    if len(secret) < 16:
        raise ValueError("the shared secret must be at least 16 characters")
    app = Flask(__name__)
    with connect(database) as db:
        db.executescript(SCHEMA)

    def answer(status: int, body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), status=status, mimetype="application/json")

    @app.post("/api/support/<action>")
    def support_action(action: str) -> Response:
        handler = ACTIONS.get(action)
        if handler is None:
            return answer(404, {"error": f"unknown action {action}"})
        raw = request.get_data(cache=True)  # the exact bytes that were signed
        if not verify_signature(secret, request.headers.get(SIGNATURE_HEADER), raw, clock()):
            return answer(401, {"error": "bad signature"})
        try:
            data = json.loads(raw)
        except ValueError:
            return answer(400, {"error": "body is not JSON"})
        if not isinstance(data, dict):
            return answer(400, {"error": "body must be a JSON object"})
        if action not in STATE_CHANGING:
            with connect(database) as db:
                try:
                    return answer(200, handler(db, data))
                except Refusal as exc:
                    return answer(exc.status, {"error": exc.message})
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key:
            return answer(400, {"error": "missing Idempotency-Key"})
        fingerprint = hashlib.sha256(action.encode() + b"\n" + raw).hexdigest()
        with connect(database) as db:
            db.execute("BEGIN IMMEDIATE")  # one writer: two requests with one key cannot both apply
            stored = db.execute("SELECT * FROM idempotency WHERE key = ?", (key,)).fetchone()
            if stored is not None:
                if (stored["action"], stored["request_sha256"]) != (action, fingerprint):
                    return answer(409, {"error": "idempotency key reused with a different request"})
                replay = answer(stored["status"], json.loads(stored["body"]))
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            db.execute("SAVEPOINT apply")
            try:
                status, body = 200, handler(db, data)
            except Refusal as exc:  # a refusal is an answer too: the same key gets it again
                db.execute("ROLLBACK TO apply")  # undo anything the action had begun
                status, body = exc.status, {"error": exc.message}
            db.execute("RELEASE apply")
            db.execute(
                "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                (key, action, fingerprint, status, json.dumps(body), iso(datetime.now(UTC))),
            )
            return answer(status, body)

    return app


@contextmanager
def connect(database: str) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode; ``BEGIN IMMEDIATE`` ... commit on success, else rollback."""
    db = sqlite3.connect(database, isolation_level=None, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        yield db
        if db.in_transaction:
            db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    finally:
        db.close()


def seed(database: str, users: list[dict[str, Any]], purchases: list[dict[str, Any]]) -> None:
    """Insert users ``{id, email, name, created_at}`` and purchases ``{id, user_id, product, amount,
    currency, purchased_at, status?}`` (for demos and tests)."""
    with connect(database) as db:
        db.executescript(SCHEMA)
        for u in users:
            db.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)",
                (u["id"], u["email"], u["name"], u["created_at"]),
            )
        for p in purchases:
            db.execute(
                "INSERT INTO purchases VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    p["id"],
                    p["user_id"],
                    p["product"],
                    p["amount"],
                    p["currency"],
                    p["purchased_at"],
                    p.get("status", "active"),
                ),
            )


DEMO_USERS = [
    {
        "id": "usr_1001",
        "email": "jane@example.com",
        "name": "Jane Doe",
        "created_at": "2024-01-15T10:00:00Z",
    }
]
DEMO_PURCHASES = [
    {
        "id": "pur_2001",
        "user_id": "usr_1001",
        "product": "Pro plan",
        "amount": 4900,
        "currency": "usd",
        "purchased_at": "2026-01-10T09:30:00Z",
    }
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="integration-app.db")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", action="store_true", help="add the demo user and purchase")
    args = parser.parse_args()
    secret = os.environ.get("SUPPORT_INTEGRATION_SECRET", "")
    app = create_app(args.database, secret)
    if args.seed:
        with connect(args.database) as db:
            empty = db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
        if empty:
            seed(args.database, DEMO_USERS, DEMO_PURCHASES)
    app.run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
