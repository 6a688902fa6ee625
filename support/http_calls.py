"""What an outside HTTP API's failures mean, said once for the clients that call one.

``support.front`` (Front's Core API) and ``support.integrations`` (a product app's integration API)
map transport failures and status classes the same way, each with its own error classes and words:

* a timeout or a connection error: ``unavailable`` (worth retrying);
* 401/403: ``refused`` (configuration: the token or the shared secret is wrong);
* 5xx: ``unavailable``; any other 4xx: ``rejected`` (the request itself is wrong).

Every failed call is counted (``support.metrics.call_error``). What is one vendor's own stays with
its client: Front's 429 (``Retry-After``), 404 and merged-conversation 301s, the integration's
signature and its answer's shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from support import metrics


class CallFailed(Exception):
    """Base of a client's errors: the message, and the HTTP status when there was an answer."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Api:
    """One outside API, as its client names it in metrics and in error messages."""

    metric: str
    """The ``service`` label of ``metrics.call_error``."""
    name: str
    """How error messages begin: ``"Front"``, ``"integration"``."""
    refused: str
    """The 401/403 message: a format string of ``where``, ``status`` and ``message``."""
    refused_error: type[CallFailed]
    unavailable: type[CallFailed]
    rejected: type[CallFailed]
    detail: Callable[[Any], str | None]
    """The API's own error text in a JSON error body (None: not of its shape)."""


def send(api: Api, where: str, request: Callable[[], httpx.Response]) -> httpx.Response:
    """Run ``request``; a timeout or a connection error is counted and raised as unavailable."""
    try:
        return request()
    except httpx.TimeoutException as exc:
        metrics.call_error(api.metric, "timeout")
        raise api.unavailable(f"{api.name} {where} timed out") from exc
    except httpx.HTTPError as exc:
        metrics.call_error(api.metric, "connection")
        raise api.unavailable(f"{api.name} {where} failed: {exc}") from exc


def check_status(
    api: Api,
    where: str,
    response: httpx.Response,
    special: Callable[[int, str], Exception | None] | None = None,
) -> None:
    """Raise the API's error for a status of 400 or more (counted first). ``special`` may answer
    a status the API gives its own meaning (Front's 404 and 429) before the generic classes."""
    status = response.status_code
    if status < 400:
        return
    metrics.call_error(api.metric, status)
    message = error_message(api, response)
    if status in (401, 403):
        text = api.refused.format(where=where, status=status, message=message)
        raise api.refused_error(text, status=status)
    own = special(status, message) if special is not None else None
    if own is not None:
        raise own
    error = api.unavailable if status >= 500 else api.rejected
    raise error(f"{api.name} {where} answered {status}: {message}", status=status)


def error_message(api: Api, response: httpx.Response) -> str:
    """The API's error text from a failed answer (its body, cut at 200 characters otherwise)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    detail = api.detail(body)
    return detail if detail is not None else str(body)[:200]
