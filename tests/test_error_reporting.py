"""Sentry (SENTRY_DSN): off when unset; when on, no secret and no message body leaves the process.

The real sentry_sdk with its Flask integration, and a transport that records envelopes instead of
sending them (no network).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from flask import request
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from app import create_app
from support import config as config_module
from support import error_reporting
from tests.world import FRONT_SECRET, FRONT_TOKEN, SLACK_SECRET, SLACK_TOKEN, settings

DSN = "https://0123456789abcdef@o1.ingest.sentry.invalid/42"
CUSTOMER_TEXT = "My card 4242 was charged twice, please refund me"
METRICS_TOKEN = "metrics-token-very-secret-42"


class Recorder(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


@pytest.fixture
def sentry_off() -> Iterator[None]:
    yield
    sentry_sdk.init()  # no DSN: an inactive client again for the rest of the session


def test_off_without_a_dsn(sentry_off: None, tmp_path: Any) -> None:
    config = config_module.load(settings(f"sqlite:///{tmp_path}/x.db"))
    assert error_reporting.init(config) is False
    assert not sentry_sdk.get_client().is_active()


def test_an_unhandled_error_is_reported_without_secrets_or_bodies(
    sentry_off: None, tmp_path: Any
) -> None:
    env = settings(f"sqlite:///{tmp_path}/x.db", SENTRY_DSN=DSN, METRICS_TOKEN=METRICS_TOKEN)
    config = config_module.load(env)
    recorder = Recorder({"dsn": DSN})
    assert error_reporting.init(config, transport=recorder) is True
    app = create_app(config)

    def boom() -> str:
        # a failure whose message carries secrets and the customer's text
        raise RuntimeError(
            f"Front answered 500 for token {FRONT_TOKEN} and {METRICS_TOKEN}: "
            f"{request.get_data(as_text=True)}"
        )

    app.add_url_rule("/boom", view_func=boom, methods=["POST"])
    response = app.test_client().post(
        "/boom?token=abc",
        data=json.dumps({"body": CUSTOMER_TEXT, "text": CUSTOMER_TEXT}),
        headers={
            "Authorization": f"Bearer {METRICS_TOKEN}",
            "X-Slack-Signature": "v0=deadbeef" * 4,
            "X-Front-Signature": "c2lnbmF0dXJlLXZhbHVl",
            "Cookie": "session=abcdef0123456789",
            "Content-Type": "application/json",
            "User-Agent": "pytest",
        },
    )
    assert response.status_code == 500
    sentry_sdk.flush()

    assert recorder.events, "the error was not reported"
    [event] = [e for e in recorder.events if e.get("exception")]
    # useful: the error's type and where it happened are there
    [exc] = event["exception"]["values"]
    assert exc["type"] == "RuntimeError"
    assert "Front answered 500" in exc["value"]
    assert event["request"]["method"] == "POST"
    assert event["request"]["headers"]["User-Agent"] == "pytest"
    # safe: no secret value, no header that authenticates, no body
    text = json.dumps(event)
    for secret in (FRONT_TOKEN, METRICS_TOKEN, FRONT_SECRET, SLACK_SECRET, SLACK_TOKEN):
        assert secret not in text
    for leaked in ("deadbeef", "c2lnbmF0dXJlLXZhbHVl", "abcdef0123456789", "4242", "charged"):
        assert leaked not in text, leaked
    headers = event["request"]["headers"]
    for name in ("Authorization", "X-Slack-Signature", "X-Front-Signature", "Cookie"):
        assert headers.get(name) in (None, error_reporting.FILTERED), name
    assert "data" not in event["request"] and "query_string" not in event["request"]
    for frame in exc["stacktrace"]["frames"]:
        assert "vars" not in frame


def test_scrubber_on_a_sentry_event_dict() -> None:
    """The shapes sentry_sdk builds: request headers, extra, breadcrumbs, logentry params."""
    scrub = error_reporting.make_scrubber(["xoxb-live-token-1234"])
    event: dict[str, Any] = {
        "level": "error",
        "logentry": {
            "message": "slack.call_failed token=%s",
            "params": ["xoxb-live-token-1234"],
        },
        "request": {
            "url": "https://support.example.com/slack/events",
            "headers": {"Authorization": "Bearer abc", "X-Inngest-Signature": "t=1&s=2"},
            "data": {"payload": CUSTOMER_TEXT},
        },
        "extra": {"draft_body": CUSTOMER_TEXT, "conversation_id": "cnv_1", "api_key": "k"},
        "breadcrumbs": {
            "values": [
                {"category": "httpx", "data": {"url": "https://api2.frontapp.com/x"}},
                {"message": "sent xoxb-live-token-1234"},
            ]
        },
    }
    out = scrub(event, None)
    text = json.dumps(out)
    assert "xoxb-live-token-1234" not in text and CUSTOMER_TEXT not in text
    assert out["request"]["headers"]["Authorization"] == error_reporting.FILTERED
    assert out["request"]["headers"]["X-Inngest-Signature"] == error_reporting.FILTERED
    assert "data" not in out["request"]
    assert out["extra"] == {
        "draft_body": error_reporting.FILTERED,
        "conversation_id": "cnv_1",
        "api_key": error_reporting.FILTERED,
    }
    assert out["logentry"]["message"] == "slack.call_failed token=%s"
    assert out["request"]["url"] == "https://support.example.com/slack/events"


def test_every_secret_setting_is_scrubbed(tmp_path: Any) -> None:
    secrets = {
        s.env: f"value-of-{s.env.lower()}-0123456789"
        for s in config_module.SETTINGS
        if s.secret and s.env not in ("INNGEST_SIGNING_KEY", "INNGEST_SIGNING_KEY_FALLBACK")
    }
    secrets["INNGEST_SIGNING_KEY"] = "signkey-prod-" + "0123456789abcdef" * 4
    secrets["INNGEST_SIGNING_KEY_FALLBACK"] = "signkey-prod-" + "fedcba9876543210" * 4
    secrets["SENTRY_DSN"] = "https://value-of-sentry-dsn-0123456789@o1.ingest.sentry.invalid/42"
    config = config_module.load({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", **secrets})
    scrub = error_reporting.make_scrubber(error_reporting.secret_values(config))
    message = " ".join(secrets.values())
    out = scrub({"message": message, "exception": {"values": [{"value": message}]}}, None)
    for value in secrets.values():
        assert value not in json.dumps(out)
