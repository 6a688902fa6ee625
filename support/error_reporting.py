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
  (exception messages, log messages, breadcrumbs);
* every occurrence of a string of the current request's body (a Front message, a Slack modal's
  text, an Inngest event's data) in any string, and pydantic's ``input_value=...`` quotes.
"""

from __future__ import annotations

import contextlib
import json
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


MIN_BODY_STRING = 8
MAX_BODY_STRINGS = 500
_PYDANTIC_INPUT = re.compile(r"input_value=.*?(?=, input_type=|\]$|$)", re.S)


def request_strings() -> list[str]:
    """Every string of the current request's body (JSON, or a form whose fields may hold JSON, as
    Slack sends it) at least ``MIN_BODY_STRING`` long: message bodies, drafts and reasons that an
    exception message might quote. Empty outside a request."""
    from flask import has_request_context, request

    if not has_request_context():
        return []
    found: list[str] = []

    def walk(value: Any) -> None:
        if len(found) >= MAX_BODY_STRINGS:
            return
        if isinstance(value, str):
            if len(value) >= MIN_BODY_STRING:
                found.append(value)
            stripped = value.lstrip()
            if stripped[:1] in ("{", "["):
                with contextlib.suppress(ValueError):
                    walk(json.loads(stripped))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    try:
        raw = request.get_data(cache=True, as_text=True)
        if request.mimetype == "application/x-www-form-urlencoded":
            walk(list(request.form.values()))
        else:
            walk(raw)
    except Exception:  # the scrubber must never fail the report
        log.debug("sentry.request_body_unreadable", exc_info=True)
    return found


def make_scrubber(secrets: list[str]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A ``before_send`` hook that removes ``secrets`` and everything listed in the docstring."""

    def scrub(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
        request = event.get("request")
        if isinstance(request, dict):
            for field in ("data", "cookies", "query_string", "env"):
                request.pop(field, None)
        for exception in (event.get("exception") or {}).get("values") or []:
            for frame in (exception.get("stacktrace") or {}).get("frames") or []:
                frame.pop("vars", None)
        hidden = sorted({*secrets, *request_strings()}, key=len, reverse=True)
        cleaned: dict[str, Any] = _clean(event, hidden)
        return cleaned

    return scrub


def _clean_text(text: str, hidden: list[str]) -> str:
    for value in hidden:
        if value in text:
            text = text.replace(value, FILTERED)
    return _PYDANTIC_INPUT.sub(f"input_value={FILTERED}", text)


def _clean(value: Any, hidden: list[str], key: str | None = None) -> Any:
    if key is not None and (SENSITIVE_KEY.search(key) or BODY_KEY.match(key)):
        return FILTERED if value not in (None, "", [], {}) else value
    if isinstance(value, str):
        return _clean_text(value, hidden)
    if isinstance(value, dict):
        return {k: _clean(v, hidden, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # sentry's header lists are [name, value] pairs: judge the value by the name
        if len(value) == 2 and isinstance(value[0], str) and SENSITIVE_KEY.search(value[0]):
            return [value[0], FILTERED]
        return [_clean(v, hidden) for v in value]
    return value


def init(config: Config, *, transport: Any = None) -> bool:
    """Start Sentry when ``SENTRY_DSN`` is set; True if it was started. ``transport`` is for tests
    (a ``sentry_sdk.transport.Transport`` that records instead of sending)."""
    if not config.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.flask import FlaskIntegration

    client = sentry_sdk.get_client()
    if transport is None and client.is_active() and client.dsn == config.sentry_dsn:
        return True  # already reporting to this DSN (create_app may run more than once)
    options: dict[str, Any] = {
        "dsn": config.sentry_dsn,
        "integrations": [FlaskIntegration()],
        "before_send": make_scrubber(secret_values(config)),
        # sentry-sdk's own collection switches (its data_collection option): the least it allows
        "data_collection": {
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "stack_frame_variables": False,
            "database_query_data": False,
            "gen_ai": {"inputs": False, "outputs": False},
        },
        "traces_sample_rate": 0.0,
        "environment": "development" if config.is_dev else "production",
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    log.info("sentry.enabled")
    return True
