"""LOG_FORMAT: text by default, or one JSON object per line with the event's key=value fields."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.logs import configure_logging, parse_event
from tests.fakes.front import inbound_event, signed_webhook
from tests.world import FRONT_SECRET, live_app, settings


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    yield
    configure_logging("WARNING", "text")


def test_parse_event_fields() -> None:
    assert parse_event(
        "front.webhook.accepted event=support/inbound.received event_id=evt_1 conversation_id=cnv_1"
    ) == {
        "event": "front.webhook.accepted",
        "field_event": "support/inbound.received",
        "event_id": "evt_1",
        "conversation_id": "cnv_1",
    }
    # a value runs until the next key=, spaces included
    assert parse_event("front.webhook.rejected reason=signature does not match") == {
        "event": "front.webhook.rejected",
        "reason": "signature does not match",
    }
    assert parse_event("approval.refused user=U1 team=None action_id=act_1") == {
        "event": "approval.refused",
        "user": "U1",
        "team": "None",
        "action_id": "act_1",
    }
    assert parse_event("inngest.sync.ok") == {"event": "inngest.sync.ok"}
    assert parse_event("127.0.0.1 - - GET /healthz 200") == {}
    assert parse_event("Starting gunicorn 27.0.1") == {}


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_lines_carry_the_event_fields_and_the_request_id(
    clean_db: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with live_app(settings(clean_db, LOG_FORMAT="json", LOG_LEVEL="INFO")) as server:
        body, headers = signed_webhook(
            FRONT_SECRET,
            inbound_event("evt_l1", "cnv_l1", "inb_x", "msg_l1", "jane@example.com", "Hi", "x"),
        )
        headers = {**headers, "X-Front-Signature": "bad", "X-Request-ID": "req-123"}
        response = httpx.post(server.url + "/webhooks/front", content=body, headers=headers)
        assert response.status_code == 401
        logging.getLogger("support.test").exception("test.failed action_id=act_9 run_id=run_1")
    err = capfd.readouterr().err
    lines = json_lines(err)
    [rejected] = [line for line in lines if line.get("event") == "front.webhook.rejected"]
    assert rejected["level"] == "WARNING"
    assert rejected["logger"] == "support.web.front_door"
    assert rejected["request_id"] == "req-123"
    assert rejected["reason"]
    assert rejected["message"].startswith("front.webhook.rejected reason=")
    assert rejected["time"].endswith("+00:00")
    [failed] = [line for line in lines if line.get("event") == "test.failed"]
    assert failed["action_id"] == "act_9" and failed["run_id"] == "run_1"
    assert "request_id" not in failed  # not logged while serving a request
    assert "NoneType: None" in failed["exception"]
    # every line on stderr from the app is one JSON object (the traceback is inside it)
    app_lines = [line for line in err.splitlines() if "front.webhook" in line]
    assert app_lines and all(line.startswith("{") for line in app_lines)


def test_text_is_the_default(clean_db: str, capfd: pytest.CaptureFixture[str]) -> None:
    with live_app(settings(clean_db, LOG_LEVEL="INFO")) as server:
        httpx.post(server.url + "/webhooks/front", content=b"{}", headers={"X-Request-ID": "r1"})
    err = capfd.readouterr().err
    [line] = [line for line in err.splitlines() if "front.webhook.rejected" in line]
    assert not line.startswith("{")
    assert " WARNING support.web.front_door front.webhook.rejected reason=" in line


def test_a_made_up_request_id_is_the_same_for_every_line_of_a_request(
    clean_db: str, capfd: pytest.CaptureFixture[str]
) -> None:
    from app import create_app

    app = create_app(settings(clean_db, LOG_FORMAT="json"))
    log = logging.getLogger("support.test")

    @app.get("/two-lines")
    def two_lines() -> str:
        log.warning("test.one a=1")
        log.warning("test.two b=2")
        return "ok"

    client = app.test_client()
    assert client.get("/two-lines", headers={"X-Request-ID": "bad id with spaces"}).data == b"ok"
    assert client.get("/two-lines").data == b"ok"
    lines = [x for x in json_lines(capfd.readouterr().err) if x["event"].startswith("test.")]
    assert [x["event"] for x in lines] == ["test.one", "test.two"] * 2
    ids = [x["request_id"] for x in lines]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert " " not in ids[0]
