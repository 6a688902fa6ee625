"""Logging set-up: one stderr handler on the root logger, plain text or one JSON object per line.

The service's log lines are dotted events followed by ``key=value`` pairs
(``front.webhook.accepted event=... event_id=... conversation_id=...``). With ``LOG_FORMAT=json``
each line becomes an object with ``time``, ``level``, ``logger``, ``message``, ``event`` (the
dotted name) and every ``key=value`` pair as its own key (``conversation_id``, ``action_id``,
``run_id``...), plus ``exception`` (the traceback) when there is one. A value runs until the next
`` key=``, so ``reason=signature does not match`` keeps its spaces. A line logged while serving an
HTTP request also carries ``request_id``: the request's ``X-Request-ID`` header, or one made up for
the request (the same for every line of that request).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from typing import Any

from flask import g, has_request_context, request

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
NOISY = ("httpx", "alembic")

_EVENT = re.compile(r"^([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+)(?=\s|$)")
_PAIR = re.compile(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=(.*?)(?=\s+[A-Za-z_][A-Za-z0-9_]*=|$)", re.S)
RESERVED = frozenset({"time", "level", "logger", "message", "event", "exception"})
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id() -> str | None:
    """The current HTTP request's id (None outside a request); made on first use."""
    if not has_request_context():
        return None
    found: str | None = g.get("request_id")
    if found is None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        found = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_id = found
    return found


def parse_event(message: str) -> dict[str, str]:
    """``{"event": dotted name, key: value...}`` of a log message; ``{}`` for a free-form one."""
    found = _EVENT.match(message)
    if not found:
        return {}
    fields = {"event": found.group(1)}
    for key, value in _PAIR.findall(message[found.end() :]):
        fields[key if key not in RESERVED else f"field_{key}"] = value.strip()
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        out.update(parse_event(message))
        rid = request_id()
        if rid is not None:
            out.setdefault("request_id", rid)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str, fmt: str = "text") -> None:
    """One stderr handler on the root logger, set before the Flask object exists."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
