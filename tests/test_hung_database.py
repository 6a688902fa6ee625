"""A database that hangs (its process stopped, not refusing connections) under the Front door.

The server is a private ``mariadbd`` (tests/private_mariadb.py), frozen with SIGSTOP and thawed with
SIGCONT; the machine's shared MariaDB is never touched. The door must answer Front within Front's
5 s (here: the client's timeout) with a retryable 503, and work again once the server is back.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.db import migrate
from tests.fakes.front import inbound_event, signed_webhook
from tests.private_mariadb import PrivateMariaDB
from tests.world import FRONT_SECRET, live_app, make_app, settings

FRONT_WEBHOOK_DEADLINE = 5.0
INBOX = "inb_hung"


@pytest.fixture
def door(private_mariadb: PrivateMariaDB, inngest: Any) -> Iterator[str]:
    url = private_mariadb.create_database()
    migrate.upgrade(url)
    with live_app(settings(url, INNGEST_BASE_URL=inngest.url)) as server:
        make_app("hung", name="Hung", front_inbox_id=INBOX)
        yield server.url


def _deliver(url: str, event_id: str) -> httpx.Response:
    body, headers = signed_webhook(
        FRONT_SECRET,
        inbound_event(event_id, "cnv_h1", INBOX, f"msg_{event_id}", "a@example.com", "Hi", "Help"),
    )
    return httpx.post(
        url + "/webhooks/front", content=body, headers=headers, timeout=FRONT_WEBHOOK_DEADLINE
    )


def test_a_hung_database_gets_a_503_before_fronts_deadline(
    door: str,
    private_mariadb: PrivateMariaDB,
    inngest: Any,
) -> None:
    assert _deliver(door, "evt_h0").status_code == 200  # the pool holds a live connection
    pid = private_mariadb.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        # httpx raises ReadTimeout if the door holds the delivery past Front's 5 s
        response = _deliver(door, "evt_h1")
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "database_unavailable"
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _deliver(door, "evt_h2").status_code == 200
    inngest.wait_idle(timeout=60)
    sent = {e["id"] for e in inngest.events_named("front/inbound_received")}
    assert {"evt_h0", "evt_h2"} <= sent and "evt_h1" not in sent
