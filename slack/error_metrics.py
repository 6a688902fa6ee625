"""Counts failed Slack Web API calls (``support_external_call_errors_total{service="slack"}``).

slack_sdk offers no response hook, but it asks each of a client's *retry handlers* about every
answer (HTTP 200 included, with the parsed body) and every connection error; Bolt copies the
handlers into the client it makes for each request. ``ErrorCounter`` is such a handler placed
first: it counts and never asks for a retry, so the handlers after it decide as before.
"""

from __future__ import annotations

import socket
from typing import Any

from slack_sdk.http_retry import RetryHandler, RetryState, default_retry_handlers
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from support import metrics


class ErrorCounter(RetryHandler):
    def can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not metrics.enabled():
            return False
        if response is None:
            timed_out = isinstance(error, TimeoutError | socket.timeout) or "timed out" in str(
                error
            )
            metrics.call_error("slack", "timeout" if timed_out else "connection")
        elif response.status_code >= 400:
            metrics.call_error("slack", response.status_code)
        else:
            body: Any = response.body
            if isinstance(body, dict) and body.get("ok") is False:
                metrics.call_error("slack", str(body.get("error") or "not_ok"))
        return False


def retry_handlers() -> list[RetryHandler]:
    """slack_sdk's default handlers, with the counter first."""
    return [ErrorCounter(), *default_retry_handlers()]
