"""The app in Inngest cloud mode (no INNGEST_DEV): every call to /api/inngest must be signed.

A second gunicorn app runs with ``INNGEST_SIGNING_KEY`` / ``INNGEST_EVENT_KEY``; the double signs its
calls with the same key, sends with the event key, and checks the signatures of the app's answers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fakes.inngest_double import hash_step_id
from tests.fakes.inngest_double._support import canonical_json, sign
from tests.world import World, eventually, open_world

SIGNING_KEY = f"signkey-test-{secrets.token_hex(32)}"
EVENT_KEY = f"evtkey-{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def cloud_base(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with open_world(
        database_url,
        tmp_path_factory.mktemp("cloud"),
        server="gunicorn",
        signing_key=SIGNING_KEY,
        event_key=EVENT_KEY,
        INNGEST_SYNC_ON_START="true",  # gunicorn.conf.py's when_ready registers the functions
    ) as world:
        yield world


@pytest.fixture
def cloud(cloud_base: World) -> Iterator[World]:
    cloud_base.reset()
    yield cloud_base
    assert cloud_base.inngest.protocol_errors == []


def test_the_app_really_is_in_cloud_mode(cloud: World) -> None:
    assert "INNGEST_DEV" not in cloud.env
    assert cloud.inngest.engine.server_kind == "cloud"
    [register] = [f for f in cloud.inngest.functions.values() if f.id.endswith("request-approval")]
    assert register.url.startswith(cloud.url + "/api/inngest")


def test_gunicorn_registered_the_functions_on_start(cloud: World) -> None:
    """INNGEST_SYNC_ON_START: the master registered once before the world's own sync (a PUT)."""
    first = cloud.inngest.register_requests[0]
    assert len(cloud.inngest.register_requests) >= 2
    assert first["body"]["url"] == cloud.url + "/api/inngest"
    assert first["headers"]["authorization"].startswith("Bearer ")
    assert "inngest.sync.ok" in cloud.log()


def test_signed_approval_flow_runs_end_to_end(cloud: World) -> None:
    action_id = cloud.propose_refund("evt_cl1", "cnv_cl1")
    assert cloud.click(action_id).status_code == 200
    eventually(lambda: cloud.decided_events(action_id), what="decision event")
    cloud.settle()
    run = cloud.run("request-approval")
    assert run.output == {"actionId": action_id, "status": "approved", "execution": "succeeded"}
    assert len(cloud.integration.refunds) == 1
    assert len(cloud.front.drafts) == 1
    # every event the app sent went to the event API with the event key (a wrong key is a 401)
    assert {e["name"] for e in cloud.inngest.events} >= {
        "front/inbound_received",
        "support/approval.requested",
        "support/approval.decided",
        "stripe/refund.completed",
    }


def _call_body(cloud: World) -> tuple[str, bytes]:
    fn = cloud.inngest.function("handle-inbound-message")
    event = {
        "name": "front/inbound_received",
        "id": "evt_forged",
        "ts": 1700000000000,
        "data": {
            "conversationId": "cnv_forged",
            "messageId": "msg_forged",
            "appId": cloud.app_id,
            "inboxId": "inb_acme",
            "frontEventId": "evt_forged",
        },
    }
    body = {
        "event": event,
        "events": [event],
        "steps": {},
        "ctx": {
            "run_id": "01FORGED",
            "attempt": 0,
            "disable_immediate_execution": False,
            "use_api": False,
            "stack": {"stack": [], "current": 0},
        },
        "use_api": False,
        "version": 1,
    }
    return fn.call_url(hash_step_id("gather-context")), canonical_json(body)


@pytest.mark.parametrize(
    ("signature", "kind"),
    [
        (None, "cloud"),
        (None, "dev"),  # claiming to be a dev server does not switch the check off
        ("t=1700000000&s=" + "0" * 64, "cloud"),
        ("garbage", "cloud"),
    ],
    ids=["unsigned", "unsigned-claims-dev", "wrong-signature", "malformed"],
)
def test_calls_without_a_valid_signature_are_refused(
    cloud: World, signature: str | None, kind: str
) -> None:
    url, body = _call_body(cloud)
    headers = {"Content-Type": "application/json", "X-Inngest-Server-Kind": kind}
    if signature:
        headers["X-Inngest-Signature"] = signature
    response = httpx.post(url, content=body, headers=headers, timeout=10)
    assert response.status_code == 401, response.text
    # nothing ran: no Front or model call, no row, no event
    assert cloud.front.requests == [] and cloud.anthropic.requests == []
    assert cloud.rows("actions") == [] and cloud.rows("drafts") == []
    assert cloud.inngest.events == []


def test_a_captured_signed_call_replayed_later_is_refused(cloud: World) -> None:
    url, body = _call_body(cloud)
    ten_minutes_ago = int(time.time()) - 600
    headers = {
        "Content-Type": "application/json",
        "X-Inngest-Server-Kind": "cloud",
        "X-Inngest-Signature": sign(body, SIGNING_KEY, ten_minutes_ago),
    }
    response = httpx.post(url, content=body, headers=headers, timeout=10)
    assert response.status_code == 401, response.text
    assert cloud.front.requests == [] and cloud.rows("drafts") == []


def test_a_correctly_signed_call_is_accepted(cloud: World) -> None:
    """The control for the test above: the same request, signed, reaches the function."""
    cloud.front.add_conversation("cnv_forged", "inb_acme")
    cloud.front.add_message("cnv_forged", "msg_forged", text="Hello there, a question")
    cloud.anthropic.reply_text("Nothing to do.")
    url, body = _call_body(cloud)
    headers = cloud.inngest.engine.call_headers(body)
    response = httpx.post(url, content=body, headers=headers, timeout=30)
    assert response.status_code in (200, 206), response.text
    assert cloud.front.calls("GET /messages/*")
