"""The Inngest client.

Functions are *declared* against ``definitions``, a client that only carries the app id (it never
sends nor serves), so workflow modules can be imported without reading settings. The client that
serves ``/api/inngest`` and sends events is built from the validated ``Config`` by ``configure()``.

``APP_ID`` is part of every function id (``support-agent-<fn id>``): never rename it once deployed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx
import inngest

from support.config import Config
from support.workflow_metrics import WorkflowFailures

APP_ID = "support-agent"
SEND_TIMEOUT_MS = 5000

MAX_EVENT_BYTES = 256 * 1024
"""Inngest Cloud's event size limit on the free tier (paid plans allow more): a bigger request is
refused, so a door never sends one (the events are bounded where they are built)."""

BOUNDED_SEND_TIMEOUT = httpx.Timeout(connect=0.75, write=0.75, read=1.5, pool=0.25)
"""One attempt for a door that must answer its caller in time (Front waits 5 s for a webhook):
at most ~3.25 s in total waiting on Inngest, then the caller is told to retry."""

SEND_SLOTS = 3
"""Bounded sends in flight per process at once (gunicorn.conf.py sets it to threads - 1), so a
hung event API can never hold every worker thread: the Slack door always keeps one."""
SLOT_WAIT_SECONDS = 0.05
HOLD_OFF_SECONDS = 5.0
"""After a send timed out, further bounded sends fail at once for this long (Inngest is hanging;
the callers are told to retry) instead of each holding a thread for the whole timeout."""

log = logging.getLogger(__name__)


class SendError(Exception):
    """The events were not accepted by Inngest."""


class EventNotSent(SendError):
    """Inngest could not be reached, timed out, failed (5xx/429) or refused our key: retry later."""


class EventRejected(SendError):
    """The events themselves are unacceptable (not encodable, too large, refused as malformed):
    sending the same events again can never succeed."""


class _Declarations:
    """Declares functions with the SDK's own ``Inngest.create_function``, which reads only
    ``self.app_id``: a real ``inngest.Inngest`` would cost ~55 ms of start-up (it builds two TLS
    contexts) for a client that never sends nor serves. tests/test_inngest_sync.py proves the
    declared ids are the served ones."""

    app_id = APP_ID
    create_function = inngest.Inngest.create_function


definitions: inngest.Inngest = _Declarations()  # type: ignore[assignment]

_lock = threading.Lock()
_client: inngest.Inngest | None = None
_http: httpx.Client | None = None
_slots = threading.BoundedSemaphore(SEND_SLOTS)
_hold_off_until = 0.0


def set_send_slots(count: int) -> None:
    """How many bounded sends may wait on Inngest at once in this process (at least 1)."""
    global _slots
    _slots = threading.BoundedSemaphore(max(1, count))


def build(config: Config) -> inngest.Inngest:
    return inngest.Inngest(
        app_id=APP_ID,
        is_production=not config.is_dev,
        api_base_url=config.inngest_api_origin,
        event_api_base_url=config.inngest_event_origin,
        event_key=config.inngest_event_key,
        signing_key=config.inngest_signing_key,
        logger=logging.getLogger("support.inngest"),
        request_timeout=SEND_TIMEOUT_MS,
        middleware=[WorkflowFailures],
    )


def configure(config: Config) -> inngest.Inngest:
    global _client, _http
    with _lock:
        _client = build(config)
        if _http is None:
            _http = httpx.Client(timeout=BOUNDED_SEND_TIMEOUT)
    return _client


def client() -> inngest.Inngest:
    if _client is None:
        raise RuntimeError("support.inngest_client.configure(config) has not been called")
    return _client


def send(events: inngest.Event | list[inngest.Event]) -> list[str]:
    """Send events from outside a function, with the SDK's retries (up to 5 tries of 5 s each).
    Inside functions use step.send_event; where a caller waits for the answer use send_bounded."""
    return client().send_sync(events)


def send_bounded(
    events: inngest.Event | list[inngest.Event], *, from_door: bool = True
) -> list[str]:
    """Send events in one attempt that gives up after ~3.25 s (``BOUNDED_SEND_TIMEOUT``).

    The request is the SDK's own (``Inngest._build_send_request``: URL, event key, headers, ids
    and timestamps exactly as ``send_sync`` sends them); only the retries are left out, so a hung
    event API costs a door one bounded wait instead of ~28 s. At most ``SEND_SLOTS`` sends wait
    at once from the doors (the send slots guard the web server's threads; work that runs after
    its caller was answered, on Bolt's listener executor, passes ``from_door=False`` and takes
    none), and for ``HOLD_OFF_SECONDS`` after a timeout none waits at all. Raises
    ``EventRejected`` when the events can never be accepted and ``EventNotSent`` when Inngest did
    not take them (the caller answers "retry later").
    """
    global _hold_off_until
    batch = events if isinstance(events, list) else [events]
    try:
        request: Any = client()._build_send_request(batch)
    except (UnicodeEncodeError, TypeError, ValueError) as exc:
        raise EventRejected(f"events could not be encoded as JSON: {exc}") from exc
    if isinstance(request, Exception):
        raise EventNotSent(f"events not sent: {request}")
    size = len(request.content)
    if size > MAX_EVENT_BYTES:
        raise EventRejected(f"events are {size} bytes, over Inngest's {MAX_EVENT_BYTES}")
    request.extensions["timeout"] = BOUNDED_SEND_TIMEOUT.as_dict()
    http = _http
    if http is None:
        raise RuntimeError("support.inngest_client.configure(config) has not been called")
    if time.monotonic() < _hold_off_until:
        raise EventNotSent("Inngest event API timed out moments ago; not waiting on it again yet")
    slots = _slots if from_door else None
    if slots is not None and not slots.acquire(timeout=SLOT_WAIT_SECONDS):
        raise EventNotSent("every send slot is waiting on Inngest already")
    try:
        response = http.send(request)
    except httpx.TimeoutException as exc:
        _hold_off_until = time.monotonic() + HOLD_OFF_SECONDS
        raise EventNotSent(f"Inngest event API timed out: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise EventNotSent(f"Inngest event API unreachable: {type(exc).__name__}") from exc
    finally:
        if slots is not None:
            slots.release()
    return _ids(response)


def _ids(response: httpx.Response) -> list[str]:
    status = response.status_code
    if status in (400, 413, 422):
        raise EventRejected(f"Inngest refused the events ({status}): {response.text[:300]}")
    if status >= 300:
        raise EventNotSent(f"Inngest event API answered {status}: {response.text[:300]}")
    try:
        answer = response.json()
    except ValueError as exc:
        raise EventNotSent("Inngest event API answered with a body that is not JSON") from exc
    if not isinstance(answer, dict) or answer.get("error"):
        raise EventNotSent(f"Inngest event API answered an error: {str(answer)[:300]}")
    ids = answer.get("ids")
    return [str(i) for i in ids] if isinstance(ids, list) else []
