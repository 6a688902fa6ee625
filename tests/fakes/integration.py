"""Loopback fake of a product app's support integration API.

The scheme (this module is the reference the product's client is tested against)
---------------------------------------------------------------------------------
Every product app implements ``POST {integration_base_url}/api/support/<action>`` with a JSON body.

Signing: header ``X-Support-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(key=app integration secret, msg=f"{t}." + raw request body bytes).hexdigest()``.
The server recomputes it over the exact bytes received, compares in constant time, and rejects
with 401 ``{"error": "bad signature"}`` when the header is missing or malformed, no ``v1`` matches,
or ``abs(now - t) > 300`` seconds.

Idempotency: state-changing actions (``revoke-access``, ``transfer-purchase``) must carry
``Idempotency-Key: <action id>`` (400 ``{"error": "missing Idempotency-Key"}`` otherwise). The first
request with a key is applied and its response (status + body) stored; any later request with the
same key gets that stored response and changes nothing. Reusing a key with a different action or
body answers 409 ``{"error": "idempotency key reused with a different request"}``.

Actions (amounts are integers in minor units, e.g. cents)::

    lookup-user          {email}                          -> {"user": {...} | null}
    get-purchases        {user_id}                        -> {"purchases": [{id, product, amount,
                                                              currency, purchased_at, status}]}
    revoke-access        {purchase_id, reason, amount?}   -> {"refund_id": "re_...", "amount",
                                                              "currency", "status": "refunded"}
                         404 unknown purchase, 409 already refunded, 400 amount above the price
    transfer-purchase    {purchase_id, to_email}          -> {"transfer_id": "tr_..", "purchase_id",
                                                              "from_user_id", "to_email", "status"}
    generate-magic-link  {email}                          -> {"url", "expires_at"}; 404 unknown user

Errors are ``{"error": "<message>"}``; missing fields answer 400.

Failures: ``fail_next(action, 500)`` (nothing applied), ``fail_after_apply(action, delay)`` (applied
and recorded, but the response is held ``delay`` seconds: longer than the client timeout, so the
client sees a timeout and must retry with the same key; the retry gets the original result).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from examples import integration_app as reference_app
from tests.fakes.http import FakeServer, Recorded, Reply

SIGNATURE_HEADER = "X-Support-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TOLERANCE_SECONDS = 300
STATE_CHANGING = frozenset({"revoke-access", "transfer-purchase"})
PREFIX = "/api/support/"


def compute_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """hex HMAC-SHA256(secret, f"{t}." + body)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers a correct client sends (for tests that call the fake directly)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return {
        SIGNATURE_HEADER: f"t={t},v1={compute_signature(secret, t, body)}",
        "Content-Type": "application/json",
    }


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """The reference app's check (``examples/integration_app.py``, what product teams copy), with
    the clock read now by default: the fake refuses exactly what a product app would."""
    now = time.time() if now is None else now
    return reference_app.verify_signature(secret, header, body, now, tolerance)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class IntegrationFake(FakeServer):
    """Fake product-app integration API. ``IntegrationFake(secret="integration-secret")``.

    Accessors (copies): ``refunds`` (applied refunds, one per idempotency key), ``transfers``,
    ``magic_links``, ``calls(action)`` (recorded requests for an action, retries included),
    ``user(email)``, ``purchase(purchase_id)``.
    """

    def __init__(
        self, secret: str = "integration-secret", *, tolerance: int = TOLERANCE_SECONDS
    ) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance = tolerance
        self._reset_state()

    def _reset_state(self) -> None:
        self._users: dict[str, dict[str, Any]] = {}  # by lower-cased email
        self._purchases: dict[str, dict[str, Any]] = {}
        self._owner: dict[str, str] = {}  # purchase id -> user id
        self._idempotent: dict[
            str, tuple[str, Any, int, Any]
        ] = {}  # key -> (action, request, status, body)
        self._refunds: list[dict[str, Any]] = []
        self._transfers: list[dict[str, Any]] = []
        self._magic_links: list[dict[str, Any]] = []
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    # -- seeding -----------------------------------------------------------------------------

    def add_user(self, email: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            record = {
                "id": f"usr_{self._next():04d}",
                "email": email,
                "name": email.split("@")[0].title(),
                "created_at": "2024-01-15T10:00:00Z",
                **(user or {}),
            }
            self._users[email.lower()] = record
            return dict(record)

    def add_purchase(self, user_id: str, purchase: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            record = {
                "id": f"pur_{self._next():04d}",
                "product": "Pro plan",
                "amount": 4900,
                "currency": "usd",
                "purchased_at": _iso(datetime.now(UTC) - timedelta(days=3)),
                "status": "active",
                **(purchase or {}),
            }
            self._purchases[record["id"]] = record
            self._owner[record["id"]] = user_id
            return dict(record)

    # -- accessors ---------------------------------------------------------------------------

    @property
    def refunds(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self._refunds]

    @property
    def transfers(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(t) for t in self._transfers]

    @property
    def magic_links(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(m) for m in self._magic_links]

    def user(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            u = self._users.get(email.lower())
            return dict(u) if u else None

    def purchase(self, purchase_id: str) -> dict[str, Any]:
        with self.lock:
            return dict(self._purchases[purchase_id])

    def action_url(self, action: str) -> str:
        return f"{self.url}{PREFIX}{action}"

    # -- scripting ---------------------------------------------------------------------------

    def fail_after_apply(self, action: str, delay: float, times: int = 1) -> None:
        """Apply the next ``action`` request (recorded as done); hold the response ``delay`` s."""
        self.slow_next(action, delay, times)

    def names(self, req: Recorded) -> set[str]:
        return {req.path[len(PREFIX) :]} if req.path.startswith(PREFIX) else set()

    # -- handling ----------------------------------------------------------------------------

    def handle(self, req: Recorded) -> Reply:
        if req.method != "POST" or not req.path.startswith(PREFIX):
            return Reply(404, {"error": "not found"})
        action = req.path[len(PREFIX) :]
        handler = getattr(self, "_a_" + action.replace("-", "_"), None)
        if handler is None:
            return Reply(404, {"error": f"unknown action {action}"})
        if not verify_signature(
            self.secret, req.header(SIGNATURE_HEADER), req.body, tolerance=self.tolerance
        ):
            return Reply(401, {"error": "bad signature"})
        if not isinstance(req.json, dict):
            return Reply(400, {"error": "body must be a JSON object"})
        data = req.json
        if action not in STATE_CHANGING:
            status, body = handler(data)
            return Reply(status, body)
        key = req.header(IDEMPOTENCY_HEADER)
        if not key:
            return Reply(400, {"error": "missing Idempotency-Key"})
        if key in self._idempotent:
            first_action, first_data, status, body = self._idempotent[key]
            if first_action != action or first_data != data:
                return Reply(409, {"error": "idempotency key reused with a different request"})
            return Reply(status, body, {"Idempotent-Replayed": "true"})
        status, body = handler(data, key)
        if status < 500:
            self._idempotent[key] = (action, data, status, body)
        return Reply(status, body)

    @staticmethod
    def _require(data: dict[str, Any], *fields: str) -> tuple[int, Any] | None:
        missing = [f for f in fields if not data.get(f)]
        return (400, {"error": f"missing field: {missing[0]}"}) if missing else None

    def _a_lookup_user(self, data: dict[str, Any]) -> tuple[int, Any]:
        if err := self._require(data, "email"):
            return err
        user = self._users.get(str(data["email"]).lower())
        return 200, {"user": dict(user) if user else None}

    def _a_get_purchases(self, data: dict[str, Any]) -> tuple[int, Any]:
        if err := self._require(data, "user_id"):
            return err
        purchases = [
            dict(p) for pid, p in self._purchases.items() if self._owner[pid] == data["user_id"]
        ]
        return 200, {"purchases": purchases}

    def _purchase(self, data: dict[str, Any], *fields: str) -> dict[str, Any] | tuple[int, Any]:
        """The purchase ``data["purchase_id"]`` names (``fields`` required too), or the error."""
        if err := self._require(data, "purchase_id", *fields):
            return err
        purchase = self._purchases.get(data["purchase_id"])
        return (404, {"error": "purchase not found"}) if purchase is None else purchase

    def _a_revoke_access(self, data: dict[str, Any], key: str) -> tuple[int, Any]:
        purchase = self._purchase(data, "reason")
        if isinstance(purchase, tuple):
            return purchase
        if purchase["status"] == "refunded":
            return 409, {"error": "already refunded"}
        amount = data.get("amount", purchase["amount"])
        if not isinstance(amount, int) or amount <= 0 or amount > purchase["amount"]:
            return 400, {"error": f"invalid amount {amount!r} (price {purchase['amount']})"}
        purchase["status"] = "refunded"
        refund = {
            "refund_id": f"re_{self._next():06d}",
            "amount": amount,
            "currency": purchase["currency"],
            "status": "refunded",
        }
        self._refunds.append(
            {
                **refund,
                "purchase_id": purchase["id"],
                "reason": data["reason"],
                "idempotency_key": key,
            }
        )
        return 200, refund

    def _a_transfer_purchase(self, data: dict[str, Any], key: str) -> tuple[int, Any]:
        purchase = self._purchase(data, "to_email")
        if isinstance(purchase, tuple):
            return purchase
        if purchase["status"] != "active":
            return 409, {"error": f"purchase is {purchase['status']}"}
        from_user = self._owner[purchase["id"]]
        to_user = self._users.get(str(data["to_email"]).lower())
        if to_user is None:
            to_user = self.add_user(str(data["to_email"]))
        self._owner[purchase["id"]] = to_user["id"]
        transfer = {
            "transfer_id": f"tr_{self._next():06d}",
            "purchase_id": purchase["id"],
            "from_user_id": from_user,
            "to_user_id": to_user["id"],
            "to_email": data["to_email"],
            "status": "transferred",
        }
        self._transfers.append({**transfer, "idempotency_key": key})
        return 200, transfer

    def _a_generate_magic_link(self, data: dict[str, Any]) -> tuple[int, Any]:
        if err := self._require(data, "email"):
            return err
        user = self._users.get(str(data["email"]).lower())
        if user is None:
            return 404, {"error": "user not found"}
        token = hashlib.sha256(f"{user['id']}:{self._next()}".encode()).hexdigest()[:32]
        link = {
            "url": f"{self.url}/magic/{token}",
            "expires_at": _iso(datetime.now(UTC) + timedelta(minutes=15)),
        }
        self._magic_links.append({**link, "email": user["email"]})
        return 200, link


def request_body(data: dict[str, Any]) -> bytes:
    """Compact JSON bytes (what a client would sign and send)."""
    return json.dumps(data, separators=(",", ":")).encode()
