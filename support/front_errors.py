"""Front's failures, as the Front client raises them, and how long a 429 asks us to wait.

Errors say what a workflow should do about them:

* ``FrontConfigError`` (401/403, or no ``FRONT_API_TOKEN``): a configuration problem. Retrying cannot
  help; workflows raise ``inngest.NonRetriableError`` with its message, which names the variable.
* ``FrontRateLimited`` (429): carries ``retry_after`` seconds read from Front's ``Retry-After``
  (else ``X-RateLimit-Reset``, see ``retry_after_seconds``); workflows raise
  ``inngest.RetryAfterError`` so the step runs again after that delay.
* ``FrontUnavailable`` (5xx, timeouts, connection errors): transient. Steps that write (drafts,
  replies) are retried; ``gather-context`` instead falls back at once to what the webhook carried
  and flags the context as degraded (reading more history is not worth delaying the answer).
* ``FrontNotFound`` (404) and ``FrontError`` (other 4xx, or a response that is not the expected
  shape): the request or the data is wrong; a clear message, never a ``KeyError`` deep inside.

``FRONT`` tells ``support.http_calls`` which of them each status class raises.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import Any

import httpx

from support.http_calls import Api, CallFailed

DEFAULT_RETRY_AFTER = 5.0
MAX_RETRY_AFTER = 900.0  # Front's windows are a minute long; a larger value is a bad header


class FrontError(CallFailed):
    """A Front call failed or answered something this client cannot use."""


class FrontConfigError(FrontError):
    """401/403 or a missing token: fix FRONT_API_TOKEN (retrying does not help)."""


class FrontNotFound(FrontError):
    """404: the conversation, message, inbox or draft does not exist."""


class FrontUnavailable(FrontError):
    """5xx, timeout or connection error: worth retrying."""


class FrontRateLimited(FrontError):
    """429: retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


def retry_after_seconds(headers: httpx.Headers, now: float | None = None) -> float:
    """How long Front asks us to wait after a 429, as Front documents its headers
    (https://dev.frontapp.com/docs/rate-limiting):

    * ``Retry-After``: seconds to wait (sent with every 429; also on the burst limits of
      resource-intensive routes, where ``X-RateLimit-Remaining`` may still be above 0). An HTTP
      date (RFC 9110) is accepted too.
    * ``X-RateLimit-Reset``: the UNIX timestamp at which the window resets (sent on every answer);
      used when ``Retry-After`` is missing or unreadable. Seconds; a value in milliseconds is
      recognised by its size.

    Header names are case-insensitive (``httpx.Headers``). Without either: ``DEFAULT_RETRY_AFTER``.
    The result is within [0, ``MAX_RETRY_AFTER``].
    """
    now = time.time() if now is None else now
    wait = _seconds(headers.get("retry-after"), now)
    if wait is None:
        reset = _number(headers.get("x-ratelimit-reset"))
        if reset is not None and reset > 0:
            wait = (reset / 1000 if reset > 1e11 else reset) - now
    if wait is None:
        return DEFAULT_RETRY_AFTER
    return min(max(wait, 0.0), MAX_RETRY_AFTER)


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


def _seconds(value: str | None, now: float) -> float | None:
    number = _number(value)
    if number is not None:
        return number
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - now if when.tzinfo is not None else None


def _detail(body: Any) -> str | None:
    """Front's error body: ``{"_error": {"status", "title", "message"}}``."""
    if isinstance(body, dict) and isinstance(body.get("_error"), dict):
        return str(body["_error"].get("message") or body["_error"].get("title") or "")
    return None


FRONT = Api(
    metric="front",
    name="Front",
    refused="Front refused {where} ({status}: {message}): check FRONT_API_TOKEN and its scopes",
    refused_error=FrontConfigError,
    unavailable=FrontUnavailable,
    rejected=FrontError,
    detail=_detail,
)
