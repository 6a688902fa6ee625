"""The benchmark's same-work references do the service's work: same rows, events and Slack calls.

``benchmarks/reference_app.py`` is what the service is measured against (``make bench``); a ratio
means something only if both do the same work. Each test sends the same request to the served app
and to the reference, against the same MariaDB database and the same loopback fakes, and compares
what they left behind. Ids, timestamps and the decision time are the only differences allowed
(normalised before comparing). Nothing here is timed.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from benchmarks.reference_app import create_app as create_reference
from benchmarks.run import ping_call
from support import db
from tests.fakes.front import inbound_event, signed_webhook
from tests.fakes.slack import SlackFake, block_actions_payload, signed_interaction
from tests.support_server import LiveServer
from tests.world import (
    APPROVAL_CHANNEL,
    APPROVERS,
    FRONT_SECRET,
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAM_ID,
    empty_tables,
    eventually,
    live_app,
    make_app,
    make_request,
    settings,
)

INBOX = "inb_bench"


class Both:
    def __init__(self, url: str, inngest: Any, slack: SlackFake) -> None:
        self.url, self.inngest, self.slack = url, inngest, slack
        env = settings(url, INNGEST_BASE_URL=inngest.url, SLACK_API_BASE_URL=slack.url + "/api/")
        self.service = live_app(env).start()
        self.reference = LiveServer(create_reference(env)).start()

    def stop(self) -> None:
        self.service.stop()
        self.reference.stop()


@pytest.fixture
def both(mysql_database: str, inngest: Any) -> Iterator[Both]:
    empty_tables(mysql_database)
    db.configure(mysql_database)
    with SlackFake(token=SLACK_TOKEN, team_id=TEAM_ID) as slack:
        pair = Both(mysql_database, inngest, slack)
        try:
            yield pair
        finally:
            pair.stop()


def rows(sql: str, **params: Any) -> list[dict[str, Any]]:
    with db.engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def normalised(value: Any, **names: str) -> str:
    """JSON text with the given values renamed and every time/date token replaced."""
    text = json.dumps(value, sort_keys=True, default=str)
    for placeholder, real in names.items():
        text = text.replace(real, placeholder)
    text = re.sub(r"<!date\^\d+\^[^|]*\|[^>]*>", "<DATE>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?Z?", "<TIME>", text)
    return re.sub(r'"ts": \d{13}', '"ts": 0', text)


def events_for(inngest: Any, marker: str) -> list[dict[str, Any]]:
    return [e for e in inngest.events if marker in json.dumps(e)]


def test_click_reference_writes_the_same_rows_events_and_slack_update(both: Both) -> None:
    app_id = make_app("bench", name="Bench", front_inbox_id=INBOX, slack_channel=APPROVAL_CHANNEL)
    clicked = {}
    for i, (who, server) in enumerate(
        [("service", both.service), ("reference", both.reference), ("ackfirst", both.reference)]
    ):
        ts = f"17000000{i}.000100"
        both.slack.add_message(APPROVAL_CHANNEL, ts, text="Approval requested")
        action_id = make_request(
            app_id,
            action_id=f"act_{who}",
            conversation_id="cnv_same",
            slack_channel=APPROVAL_CHANNEL,
            slack_ts=ts,
        )
        payload = block_actions_payload(
            "approve_action", action_id, APPROVERS[0], TEAM_ID, APPROVAL_CHANNEL, ts
        )
        body, headers = signed_interaction(SLACK_SECRET, payload)
        path = "/slack/events" + ("?shape=ack-first" if who == "ackfirst" else "")
        answer = httpx.post(server.url + path, content=body, headers=headers, timeout=30)
        assert answer.status_code == 200
        clicked[who] = (action_id, ts)
        if who == "reference":
            # The durable shape: the decision is committed when the 200 arrives.
            assert rows("SELECT status FROM approval_requests WHERE id=:i", i=action_id) == [
                {"status": "approved"}
            ]

    def left_behind(who: str) -> str:
        action_id, ts = clicked[who]
        eventually(
            lambda: (
                len(events_for(both.inngest, action_id)) == 2
                and any(u.get("ts") == ts for u in both.slack.updates)
            ),
            timeout=30,
            what=f"{who}: 2 events and chat.update",
        )
        update = [u for u in both.slack.updates if u.get("ts") == ts]
        state = {
            "approval": rows(
                "SELECT status, decided_by, decided_at IS NOT NULL AS decided, reason, edits, "
                "slack_channel FROM approval_requests WHERE id=:i",
                i=action_id,
            ),
            "action": rows("SELECT status FROM actions WHERE id=:i", i=action_id),
            "audit": rows(
                "SELECT event, actor, action_id, conversation_id, detail, created_at IS NOT NULL "
                "AS stamped FROM audit_log WHERE action_id=:i ORDER BY id",
                i=action_id,
            ),
            "events": sorted(events_for(both.inngest, action_id), key=lambda e: e["name"]),
            "slack": [{k: u[k] for k in ("channel", "ts", "text", "blocks")} for u in update],
        }
        for row in state["audit"]:
            row["detail"] = json.loads(row["detail"])
        return normalised(state, ACTION=action_id, TS=ts)

    service = left_behind("service")
    assert '"approval.approved"' in service and '"support/approval.decided"' in service
    assert left_behind("reference") == service
    assert left_behind("ackfirst") == service


def test_front_reference_sends_the_same_event_and_answer(both: Both) -> None:
    make_app("bench", name="Bench", front_inbox_id=INBOX)
    seen = {}
    for who, server in (("service", both.service), ("reference", both.reference)):
        envelope = inbound_event(
            f"evt_{who}", "cnv_same", INBOX, "msg_same", "jane@example.com", "Refund", "Twice."
        )
        body, headers = signed_webhook(FRONT_SECRET, envelope)
        answer = httpx.post(server.url + "/webhooks/front", content=body, headers=headers)
        assert answer.status_code == 200
        sent = events_for(both.inngest, f"evt_{who}")
        assert len(sent) == 1
        seen[who] = normalised({"answer": answer.json(), "events": sent}, EVENT=f"evt_{who}")
    assert '"front/inbound_received"' in seen["service"]
    assert seen["reference"] == seen["service"]


def test_front_reference_ignores_an_unknown_inbox_like_the_service(both: Both) -> None:
    make_app("bench", name="Bench", front_inbox_id=INBOX)
    for server in (both.service, both.reference):
        envelope = inbound_event("evt_x", "cnv_x", "inb_other", "msg_x", "a@b.c", "S", "T")
        body, headers = signed_webhook(FRONT_SECRET, envelope)
        answer = httpx.post(server.url + "/webhooks/front", content=body, headers=headers)
        assert answer.json() == {"ok": True, "ignored": "no app for inbox"}
    assert both.inngest.events == []


def step_call(run_id: str) -> tuple[bytes, dict[str, str]]:
    event = {
        "name": "support/ping",
        "id": f"evt_{run_id}",
        "ts": int(time.time() * 1000),
        "data": {"requestedBy": "bench"},
    }
    return ping_call(event, run_id)


def test_step_reference_writes_the_same_audit_row_and_step_answer(both: Both) -> None:
    seen = {}
    for who, server in (("service", both.service), ("reference", both.reference)):
        run_id = uuid.uuid4().hex
        body, headers = step_call(run_id)
        answer = httpx.post(
            server.url + "/api/inngest?fnId=support-agent-ping&stepId=step",
            content=body,
            headers=headers,
        )
        [row] = rows(
            "SELECT id, event, actor, action_id, conversation_id, detail FROM audit_log "
            "WHERE detail LIKE :r",
            r=f"%{run_id}%",
        )
        [step] = answer.json()
        assert step["data"] == row["id"]
        row["detail"] = json.loads(row["detail"])
        del row["id"], step["data"]
        seen[who] = normalised({"status": answer.status_code, "step": step, "row": row}, RUN=run_id)
    assert '"StepRun"' in seen["service"] and '"inngest.ping"' in seen["service"]
    assert seen["reference"] == seen["service"]
