"""The Inngest client.

Functions are *declared* against ``definitions``, a client that only carries the app id (it never
sends nor serves), so workflow modules can be imported without reading settings. The client that
serves ``/api/inngest`` and sends events is built from the validated ``Config`` by ``configure()``.

``APP_ID`` is part of every function id (``support-agent-<fn id>``): never rename it once deployed.
"""

from __future__ import annotations

import logging
import threading

import inngest

from support.config import Config
from support.workflow_metrics import WorkflowFailures

APP_ID = "support-agent"
SEND_TIMEOUT_MS = 5000


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
    global _client
    with _lock:
        _client = build(config)
    return _client


def client() -> inngest.Inngest:
    if _client is None:
        raise RuntimeError("support.inngest_client.configure(config) has not been called")
    return _client


def send(events: inngest.Event | list[inngest.Event]) -> list[str]:
    """Send events from outside a function (web doors). Inside functions use step.send_event."""
    return client().send_sync(events)
