"""``flask --app app apps check SLUG``: does a registered app's integration API keep the contract
(docs/integration-api.md)? It changes nothing: only read actions are called, for an address and a
user id that cannot exist.

Checks, one line each with the fix when it fails (rendered like ``doctor``):

* ``url``               the integration URL is http(s); plain http off loopback is a warning.
* ``signed.lookup-user`` a correctly signed ``lookup-user`` answers 200 ``{"user": null | {id...}}``.
* ``signed.get-purchases`` a correctly signed ``get-purchases`` answers 200 ``{"purchases": [...]}``.
* ``refuses.unsigned``   no signature header -> 401.
* ``refuses.wrong-secret`` signed with another secret -> 401.
* ``refuses.stale``      signed 10 minutes ago (outside the 300 s window) -> 401.
* ``refuses.future``     signed 10 minutes ahead -> 401.

Each line carries the request's duration; a call slower than half of
``INTEGRATION_TIMEOUT_SECONDS`` is a warning (the service gives up at the timeout and retries).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from support.doctor.report import Check, Report
from support.integrations import SIGNATURE_HEADER, encode_body, signature_header

PROBE_EMAIL = "support-agent-conformance-check@example.invalid"
PROBE_USER_ID = "usr_support_agent_conformance_check"
WINDOW_SECONDS = 300
SKEW_SECONDS = 600
DOC = "docs/integration-api.md"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer
    body: Any
    error: str | None
    ms: float


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    started = time.monotonic()
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return Answer(None, None, f"no answer within {timeout:g} s", _ms(started))
    except httpx.HTTPError as exc:
        return Answer(None, None, f"no answer: {type(exc).__name__}: {exc}", _ms(started))
    try:
        parsed: Any = response.json()
    except ValueError:
        parsed = None
    return Answer(response.status_code, parsed, None, _ms(started))


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _shown(answer: Answer) -> str:
    if answer.status is None:
        return str(answer.error)
    return f"HTTP {answer.status}"


def _user_shape(body: Any) -> str | None:
    """What is wrong with a lookup-user answer (None: in shape)."""
    if not isinstance(body, dict) or "user" not in body:
        return 'the answer is not a JSON object with a "user" key'
    user = body["user"]
    if user is not None and not (isinstance(user, dict) and isinstance(user.get("id"), str)):
        return '"user" is neither null nor an object with a string "id"'
    return None


def _purchases_shape(body: Any) -> str | None:
    if not isinstance(body, dict) or not isinstance(body.get("purchases"), list):
        return 'the answer is not a JSON object with a "purchases" list'
    if not all(isinstance(p, dict) for p in body["purchases"]):
        return '"purchases" holds something other than objects'
    return None


def run(
    *, slug: str, base_url: str, secret: str, timeout: float, now: Callable[[], float] = time.time
) -> Report:
    """Every check against ``base_url``; the report masks ``secret``."""
    checks: list[Check] = []
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        checks.append(
            Check(
                "fail",
                "url",
                f"integration URL {base_url!r} is not an http(s) URL",
                f"flask --app app apps update {slug} --integration-url https://...",
            )
        )
        return Report(checks, [secret])
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        checks.append(
            Check(
                "warn",
                "url",
                f"{base_url} is plain http: signed calls and customer data travel unencrypted",
                "serve the integration API over https",
            )
        )
    else:
        checks.append(Check("ok", "url", base_url))

    slow = timeout / 2

    def call(action: str, data: dict[str, Any], header: str | None) -> Answer:
        body = encode_body(data)
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers[SIGNATURE_HEADER] = header
        return _post(f"{base_url.rstrip('/')}/api/support/{action}", body, headers, timeout)

    def signed(action: str, data: dict[str, Any], shape: Callable[[Any], str | None]) -> Check:
        name = f"signed.{action}"
        answer = call(action, data, signature_header(secret, encode_body(data), now()))
        took = f"({answer.ms:.0f} ms)"
        if answer.status is None:
            return Check(
                "fail",
                name,
                f"{answer.error} {took}",
                f"check that {base_url} is up and reachable from this host, and the URL "
                f"(`flask --app app apps update {slug} --integration-url ...`)",
            )
        if answer.status in (401, 403):
            return Check(
                "fail",
                name,
                f"a correctly signed call was refused (HTTP {answer.status}) {took}",
                "the app's secret differs from ours: `flask --app app apps rotate-secret "
                f"{slug}` and give the new secret to the product team; or its signature check is "
                f"wrong (test it against the known-answer vector in {DOC})",
            )
        if answer.status == 404 and not isinstance(answer.body, dict):
            return Check(
                "fail",
                name,
                f"HTTP 404 {took}: no /api/support/{action} route at {base_url}",
                f"the integration URL is the base the app serves /api/support/<action> under; see {DOC}",
            )
        if answer.status != 200:
            return Check(
                "fail",
                name,
                f"HTTP {answer.status} {took} for a read of an unknown "
                + ("address" if action == "lookup-user" else "user"),
                f"{action} must answer 200 (unknown = {'null' if action == 'lookup-user' else '[]'}); "
                f"see {DOC}",
            )
        problem = shape(answer.body)
        if problem:
            return Check("fail", name, f"HTTP 200 {took} but {problem}", f"see {DOC}, {action}")
        if answer.ms > slow * 1000:
            return Check(
                "warn",
                name,
                f"in shape, but slow {took}: the service gives up after {timeout:g} s",
                "make the read faster, or raise INTEGRATION_TIMEOUT_SECONDS",
            )
        return Check("ok", name, f"HTTP 200 in shape {took}")

    checks.append(signed("lookup-user", {"email": PROBE_EMAIL}, _user_shape))
    checks.append(signed("get-purchases", {"user_id": PROBE_USER_ID}, _purchases_shape))

    probe = {"email": PROBE_EMAIL}
    body = encode_body(probe)
    wrong = "wrong-" + secrets.token_hex(16)
    refusals = (
        ("refuses.unsigned", None, "a call without X-Support-Signature"),
        (
            "refuses.wrong-secret",
            signature_header(wrong, body, now()),
            "a call signed with another secret",
        ),
        (
            "refuses.stale",
            signature_header(secret, body, now() - SKEW_SECONDS),
            f"a call signed {SKEW_SECONDS // 60} minutes ago",
        ),
        (
            "refuses.future",
            signature_header(secret, body, now() + SKEW_SECONDS),
            f"a call signed {SKEW_SECONDS // 60} minutes ahead",
        ),
    )
    for name, header, what in refusals:
        answer = call("lookup-user", probe, header)
        took = f"({answer.ms:.0f} ms)"
        if answer.status == 401:
            checks.append(Check("ok", name, f"{what}: HTTP 401 {took}"))
            continue
        if name in ("refuses.stale", "refuses.future"):
            fix = (
                f"answer 401 when |now - t| > {WINDOW_SECONDS} s, past or future, and keep the "
                f"server's clock in sync (NTP) ({DOC}, Signature)"
            )
        else:
            fix = (
                "verify the signature before anything else and answer 401: HMAC-SHA256 of "
                f'"<t>." + the raw body with the shared secret, compared in constant time '
                f"({DOC}, Signature)"
            )
        if answer.status is None:
            checks.append(Check("fail", name, f"{what}: {answer.error} {took}", fix))
        else:
            checks.append(
                Check(
                    "fail",
                    name,
                    f"{what} was answered HTTP {answer.status}, not 401 {took}",
                    fix,
                )
            )
    return Report(checks, [secret, wrong])
