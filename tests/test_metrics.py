"""GET /metrics: who may read it, and that the counters move as the approval loop runs.

Over real HTTP: the app (``METRICS_TOKEN`` set) with the Inngest double and the Slack, Front,
integration and model fakes, on SQLite and MariaDB. Each scenario scrapes ``/metrics`` before and
after (approve, edit, reject, expire, a failed execution, door refusals, vendor errors) and checks
the difference, so the counters of other tests in this process do not matter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from support import metrics
from tests.approval_helpers import Stack, approval_row, approval_stack, eventually
from tests.conftest import APPROVERS, FRONT_SECRET, base_settings, serve_app
from tests.fakes.front import inbound_event, signed_webhook

TOKEN = "metrics-test-token-0123456789"
HOUR = 3600.0

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
http = httpx.Client(timeout=30)  # one client: building one costs an SSL context


def scrape(url: str, token: str = TOKEN) -> Samples:
    response = http.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples named ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


class Meter:
    """Scrapes before and after, and tells by how much a series moved."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.before = scrape(url)

    def moved(self, name: str, **labels: str) -> float:
        return total(scrape(self.url), name, **labels) - total(self.before, name, **labels)

    def wait(self, name: str, at_least: float = 1, **labels: str) -> float:
        return float(
            eventually(
                lambda: (d := self.moved(name, **labels)) >= at_least and d,
                what=f"{name}{labels} to move by {at_least}",
            )
        )


@pytest.fixture
def stack(clean_db: str, inngest: Any) -> Iterator[Stack]:
    with approval_stack(clean_db, inngest, METRICS_TOKEN=TOKEN) as s:
        yield s


def done(stack: Stack, fn: str) -> list[Any]:
    stack.inngest.wait_idle()
    return [r for r in stack.inngest.runs_for(fn) if r.done]


# -- access -----------------------------------------------------------------------------------------


def test_metrics_need_the_token(stack: Stack) -> None:
    url = stack.server.url + "/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url).headers["WWW-Authenticate"].startswith("Bearer")
    for header in (
        "Bearer wrong-token",
        f"Basic {TOKEN}",
        TOKEN,
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer",
        "Bearer é",
    ):
        response = http.get(url, headers={"Authorization": header.encode()})
        assert response.status_code == 401, header
        assert "support_" not in response.text
    ok = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "support_approvals_pending" in ok.text


def test_no_metrics_without_a_token(clean_db: str) -> None:
    server = serve_app(base_settings(clean_db))
    try:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}, {"Authorization": "Bearer"}):
            response = httpx.get(server.url + "/metrics", headers=headers)
            assert response.status_code == 404
            assert response.json()["error"] == "not_found"
        assert not metrics.enabled()  # nothing is counted either
    finally:
        server.stop()


# -- the loop -------------------------------------------------------------------------------------


def test_approve_counts_the_decision_the_wait_and_the_execution(stack: Stack) -> None:
    action_id = stack.new_request()
    stack.request_approval(action_id)
    meter = Meter(stack.server.url)
    assert total(meter.before, "support_approvals_pending") == 1
    assert total(meter.before, "support_approvals_oldest_pending_seconds") >= 0

    assert stack.click(action_id).status_code == 200
    [run] = eventually(lambda: done(stack, "request-approval"), what="run finished")
    assert run.output["execution"] == "succeeded"

    assert meter.wait("support_decisions_total", outcome="approved") == 1
    assert meter.moved("support_decision_seconds_count", outcome="approved") == 1
    assert meter.moved("support_executions_total", type="refund", status="succeeded") == 1
    assert meter.moved("support_door_requests_total", door="slack", outcome="accepted") >= 1
    assert meter.moved("support_slack_ack_seconds_count") >= 1
    assert meter.moved("support_door_requests_total", door="inngest", outcome="accepted") >= 1
    for outcome in ("rejected", "expired", "edited"):
        assert meter.moved("support_decisions_total", outcome=outcome) == 0
    after = scrape(stack.server.url)
    assert total(after, "support_approvals_pending") == 0
    assert total(after, "support_approvals_oldest_pending_seconds") == 0


def test_edit_then_reject_and_expire_each_count_under_their_outcome(stack: Stack) -> None:
    edited, rejected, expired = stack.new_request(), stack.new_request(), stack.new_request()
    for action_id in (edited, rejected, expired):
        stack.request_approval(action_id)
    meter = Meter(stack.server.url)
    assert total(meter.before, "support_approvals_pending") == 3

    assert stack.submit_edit(edited, "2500", None).status_code == 200
    assert meter.wait("support_decisions_total", outcome="edited") == 1
    assert approval_row(edited)["edits"] == {"parameters": {"amount": 2500}}

    stack.model.reply_tool_use("draft_response", {"body": "Sorry Jane, we cannot refund this."})
    stack.model.reply_text("Revised.")
    assert stack.submit_reject(rejected, "Outside the refund window").status_code == 200
    assert meter.wait("support_decisions_total", outcome="rejected") == 1
    stack.inngest.wait_idle()
    eventually(lambda: stack.front.drafts, what="revised draft")
    # the revision ran the agent: one model call per scripted reply, with its tokens
    assert meter.wait("support_agent_model_calls_total") == 2
    # prompt caching: the input is counted as plain input, cache reads and cache writes
    read = sum(
        meter.moved("support_agent_tokens_total", kind=kind)
        for kind in ("input", "cache_read", "cache_write")
    )
    assert read > 0
    assert meter.moved("support_agent_tokens_total", kind="output") > 0

    stack.inngest.advance(24 * HOUR + 1)
    assert approval_row(expired)["status"] == "expired"
    assert meter.wait("support_decisions_total", outcome="expired") == 1
    assert meter.moved("support_decision_seconds_count", outcome="expired") == 1
    assert meter.moved("support_decisions_total", outcome="approved") == 0
    assert total(scrape(stack.server.url), "support_approvals_pending") == 0


def test_failed_execution_counts_the_failure_the_workflow_and_the_integration_error(
    stack: Stack,
) -> None:
    action_id = stack.new_request(
        parameters={"purchase_id": "pur_unknown", "amount": 100, "reason": "x"}
    )
    stack.request_approval(action_id)
    meter = Meter(stack.server.url)

    stack.click(action_id)
    [run] = eventually(lambda: done(stack, "request-approval"), what="run finished")
    assert run.output["execution"] == "failed"
    assert meter.wait("support_executions_total", type="refund", status="failed") == 1
    assert meter.moved("support_executions_total", status="succeeded") == 0
    assert meter.moved("support_workflow_failures_total", function="process-refund") == 1
    assert meter.moved("support_workflow_failures_total", function="execute-action") == 0
    assert meter.moved("support_external_call_errors_total", service="integration") == 1
    assert meter.moved("support_decisions_total", outcome="approved") == 1


# -- doors and vendors ----------------------------------------------------------------------------


def test_door_refusals_carry_their_reason(stack: Stack) -> None:
    meter = Meter(stack.server.url)
    body, headers = signed_webhook(
        FRONT_SECRET,
        inbound_event("evt_m1", "cnv_1", "inb_acme", "msg_m1", "jane@example.com", "Hi", "Help"),
    )
    assert httpx.post(stack.server.url + "/webhooks/front", content=body, headers=headers)
    bad = {**headers, "X-Front-Signature": "AAAA"}
    response = httpx.post(stack.server.url + "/webhooks/front", content=body, headers=bad)
    assert response.status_code == 401
    assert httpx.post(stack.server.url + "/slack/events", content=b"x").status_code == 401

    assert meter.moved("support_door_requests_total", door="front", outcome="accepted") == 1
    assert (
        meter.moved(
            "support_door_requests_total", door="front", outcome="refused", reason="bad_signature"
        )
        == 1
    )
    assert (
        meter.moved(
            "support_door_requests_total", door="slack", outcome="refused", reason="bad_signature"
        )
        == 1
    )
    # /metrics itself and the health checks are no door
    assert meter.moved("support_door_requests_total", door="metrics") == 0


def test_front_unavailable_is_a_503_on_the_door(clean_db: str) -> None:
    settings = base_settings(
        clean_db, METRICS_TOKEN=TOKEN, INNGEST_BASE_URL="http://127.0.0.1:9"
    )  # nothing listens there: the event cannot be sent
    server = serve_app(settings)
    try:
        from tests.approval_helpers import make_app

        make_app(front_inbox_id="inb_acme")
        meter = Meter(server.url)
        body, headers = signed_webhook(
            FRONT_SECRET,
            inbound_event("evt_m2", "cnv_2", "inb_acme", "msg_m2", "jane@example.com", "Hi", "x"),
        )
        response = httpx.post(server.url + "/webhooks/front", content=body, headers=headers)
        assert response.status_code == 503
        assert (
            meter.moved(
                "support_door_requests_total",
                door="front",
                outcome="unavailable",
                reason="event_not_sent",
            )
            == 1
        )
    finally:
        server.stop()


def test_slack_and_front_errors_are_counted_by_status(stack: Stack) -> None:
    action_id = stack.new_request()
    stack.request_approval(action_id)
    meter = Meter(stack.server.url)
    # a refused clicker is told ephemerally; Slack answers ok:false
    stack.slack.error_next("chat.postEphemeral", "channel_not_found")
    assert stack.click(action_id, user="U0NOTALLOWED").status_code == 200
    assert (
        meter.wait(
            "support_external_call_errors_total", service="slack", status="channel_not_found"
        )
        == 1
    )
    # a rejection's revised draft: Front fails once with 502, the step is retried
    stack.front.fail_next("/conversations/cnv_1/drafts", 502)
    stack.model.reply_tool_use("draft_response", {"body": "Sorry Jane."})
    stack.model.reply_text("Revised.")
    assert stack.submit_reject(action_id, "No").status_code == 200
    stack.inngest.wait_idle()
    eventually(lambda: stack.front.drafts, what="revised draft")
    assert meter.moved("support_external_call_errors_total", service="front", status="502") == 1
    assert approval_row(action_id)["decided_by"] == APPROVERS[0]
