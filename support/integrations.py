"""Signed client for a product app's support integration API.

The scheme (defined once here; ``tests/fakes/integration.py`` verifies it independently)
---------------------------------------------------------------------------------------
* ``POST {app.integration_base_url}/api/support/<action>`` with a compact JSON object body.
* ``X-Support-Signature: t=<unix seconds>,v1=<hex>``, where
  ``hex = HMAC-SHA256(key=app.integration_secret, msg=f"{t}." + raw body bytes).hexdigest()``.
  The server recomputes it over the exact bytes it received, compares in constant time and refuses
  (401) a missing or wrong signature or ``|now - t| > 300`` s.
* State-changing actions (``revoke-access``, ``transfer-purchase``) carry
  ``Idempotency-Key: <action id>``: the first request with a key is applied, any later one gets the
  stored answer. The body must be byte-for-byte deterministic for a given action (no timestamps in
  it), so a retry after a timeout is recognised as the same request.

Actions: ``lookup-user {email}``, ``get-purchases {user_id}``, ``revoke-access {purchase_id, reason,
amount?}`` (amount in minor units), ``transfer-purchase {purchase_id, to_email}``,
``generate-magic-link {email}``.

Errors: ``IntegrationUnavailable`` (timeout, connection error, 5xx: retry), ``IntegrationRejected``
(4xx: the request is wrong; retrying the same request gives the same answer),
``IntegrationAuthError`` (401/403: the shared secret is wrong: configuration).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx

from support import http_calls
from support.http_calls import CallFailed

SIGNATURE_HEADER = "X-Support-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
STATE_CHANGING = frozenset({"revoke-access", "transfer-purchase"})
TIMEOUT_SECONDS = 10.0
"""Per-request timeout (module setting so tests can shorten it)."""


class IntegrationError(CallFailed):
    """An integration call failed or answered something this client cannot use."""


class IntegrationUnavailable(IntegrationError):
    """Timeout, connection error or 5xx: worth retrying (with the same idempotency key)."""


class IntegrationRejected(IntegrationError):
    """A 4xx other than 401/403: the request itself is refused."""


class IntegrationAuthError(IntegrationError):
    """401/403: the app's integration secret does not match."""


def _detail(body: Any) -> str | None:
    """The integration API's error body: ``{"error": ...}``."""
    return str(body["error"]) if isinstance(body, dict) and "error" in body else None


INTEGRATION = http_calls.Api(
    metric="integration",
    name="integration",
    refused="integration {where} refused our signature ({status}: {message}); "
    "check the app's integration secret",
    refused_error=IntegrationAuthError,
    unavailable=IntegrationUnavailable,
    rejected=IntegrationRejected,
    detail=_detail,
)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return mac.hexdigest()


def signature_header(secret: str, body: bytes, now: float | None = None) -> str:
    t = int(time.time() if now is None else now)
    return f"t={t},v1={signature(secret, t, body)}"


def encode_body(data: dict[str, Any]) -> bytes:
    """Deterministic compact JSON (sorted keys) so a retried request is byte-identical."""
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode()


class IntegrationClient:
    def __init__(self, base_url: str, secret: str, *, timeout: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._timeout = TIMEOUT_SECONDS if timeout is None else timeout

    def call(
        self, action: str, data: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        if action in STATE_CHANGING and not idempotency_key:
            raise ValueError(f"{action} changes state: an idempotency key is required")
        body = encode_body(data)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self._secret, body),
        }
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        url = f"{self.base_url}/api/support/{action}"
        response = http_calls.send(
            INTEGRATION,
            action,
            lambda: httpx.post(url, content=body, headers=headers, timeout=self._timeout),
        )
        http_calls.check_status(INTEGRATION, action, response)
        try:
            answer = response.json()
        except ValueError as exc:
            raise IntegrationError(f"integration {action} answered non-JSON") from exc
        if not isinstance(answer, dict):
            raise IntegrationError(
                f"integration {action} answered {type(answer).__name__}, not an object"
            )
        return answer

    # -- typed helpers ---------------------------------------------------------------------

    def lookup_user(self, email: str) -> dict[str, Any] | None:
        user = self.call("lookup-user", {"email": email}).get("user")
        if user is not None and not (isinstance(user, dict) and isinstance(user.get("id"), str)):
            raise IntegrationError("integration lookup-user: user has no string id")
        return user

    def get_purchases(self, user_id: str) -> list[dict[str, Any]]:
        purchases = self.call("get-purchases", {"user_id": user_id}).get("purchases")
        if not isinstance(purchases, list) or not all(isinstance(p, dict) for p in purchases):
            raise IntegrationError("integration get-purchases: purchases is not a list of objects")
        return purchases

    def revoke_access(
        self, *, purchase_id: str, reason: str, amount: int | None, idempotency_key: str
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"purchase_id": purchase_id, "reason": reason}
        if amount is not None:
            data["amount"] = amount
        answer = self.call("revoke-access", data, idempotency_key=idempotency_key)
        if not isinstance(answer.get("refund_id"), str):
            raise IntegrationError("integration revoke-access: answer has no refund_id")
        return answer

    def transfer_purchase(
        self, *, purchase_id: str, to_email: str, idempotency_key: str
    ) -> dict[str, Any]:
        return self.call(
            "transfer-purchase",
            {"purchase_id": purchase_id, "to_email": to_email},
            idempotency_key=idempotency_key,
        )
