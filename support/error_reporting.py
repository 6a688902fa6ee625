"""Optional Sentry error reporting (``SENTRY_DSN``), with secrets and message bodies scrubbed.

Off when ``SENTRY_DSN`` is unset: ``sentry_sdk`` is then not even imported. When set, unhandled
errors of the Flask app (and ``log.exception`` lines, as events) are reported through sentry-sdk's
Flask integration; no tracing, no request bodies, no local variables, no personal data.

``scrub`` is the ``before_send`` hook. Whatever the SDK put in an event, it removes:

* request bodies, cookies and query strings, and every header that authenticates or signs
  (``Authorization``, ``X-Slack-Signature``, ``X-Front-Signature``, ``X-Inngest-Signature``...);
* the value of every key that names a secret (token, secret, signature, password, key, dsn...) or a
  message body (body, text, draft, reasoning, message...), at any depth;
* every occurrence of a configured secret's value (each ``Setting`` marked ``secret``) in any string
  (exception messages, log messages, breadcrumbs).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from support.config import SETTINGS, Config

log = logging.getLogger(__name__)

FILTERED = "[Filtered]"
SENSITIVE_KEY = re.compile(
    r"token|secret|signature|passw|authoriz|cookie|api[_-]?key|signing|dsn|session|"
    r"credential|^key$|private",
    re.IGNORECASE,
)
BODY_KEY = re.compile(
    r"^(body|body_html|text|draft|draft_?body|message_?body|messages|reasoning|content|"
    r"reason|note|subject|data|edits|parameters|input)$",
    re.IGNORECASE,
)
MIN_SECRET_LENGTH = 6


def secret_values(config: Config) -> list[str]:
    """The values of every setting marked secret (longest first, so overlaps are all hidden)."""
    values = {
        str(getattr(config, s.attr)) for s in SETTINGS if s.secret and getattr(config, s.attr)
    }
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def make_scrubber(secrets: list[str]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A ``before_send`` hook that removes ``secrets`` and everything listed in the docstring."""

    def clean_text(text: str) -> str:
        for value in secrets:
            if value in text:
                text = text.replace(value, FILTERED)
        return text

    def clean(value: Any, key: str | None = None) -> Any:
        if key is not None and (SENSITIVE_KEY.search(key) or BODY_KEY.match(key)):
            return FILTERED if value not in (None, "", [], {}) else value
        if isinstance(value, str):
            return clean_text(value)
        if isinstance(value, dict):
            return {k: clean(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            # sentry's header lists are [name, value] pairs: judge the value by the name
            if len(value) == 2 and isinstance(value[0], str) and SENSITIVE_KEY.search(value[0]):
                return [value[0], FILTERED]
            return [clean(v) for v in value]
        return value

    def scrub(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
        request = event.get("request")
        if isinstance(request, dict):
            for field in ("data", "cookies", "query_string", "env"):
                request.pop(field, None)
        for exception in (event.get("exception") or {}).get("values") or []:
            for frame in (exception.get("stacktrace") or {}).get("frames") or []:
                frame.pop("vars", None)
        cleaned: dict[str, Any] = clean(event)
        return cleaned

    return scrub


def init(config: Config, *, transport: Any = None) -> bool:
    """Start Sentry when ``SENTRY_DSN`` is set; True if it was started. ``transport`` is for tests
    (a ``sentry_sdk.transport.Transport`` that records instead of sending)."""
    if not config.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    options: dict[str, Any] = {
        "dsn": config.sentry_dsn,
        "integrations": [FlaskIntegration()],
        "before_send": make_scrubber(secret_values(config)),
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
        "traces_sample_rate": 0.0,
        "environment": "development" if config.is_dev else "production",
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    log.info("sentry.enabled")
    return True
