"""Prometheus metrics: what the service counts, and the one-line calls that count it.

Every metric is declared here; code elsewhere calls the small functions below
(``metrics.decision(...)``, ``metrics.execution(...)``, ...), never ``prometheus_client`` itself.
``GET /metrics`` (``support.web.metrics``) renders them; ``docs/observability.md`` lists each one.

* Off unless ``METRICS_TOKEN`` is set (``configure``): every call below then returns at once.
* Several gunicorn workers: with ``PROMETHEUS_MULTIPROC_DIR`` in the environment *before*
  ``prometheus_client`` is imported, each worker writes its values to its own files in that directory
  and a scrape, answered by any worker, sums them (prometheus_client's multiprocess mode).
  ``gunicorn.conf.py`` empties the directory when the master starts and calls
  ``mark_process_dead`` when a worker exits.
* Labels are small closed sets (door, outcome, action type, function id, HTTP status): never an id,
  an email or a message, so the number of series stays bounded.
* Gauges that describe the database (pending approvals) are read at scrape time by
  ``DatabaseCollector``: one ``COUNT`` query per scrape, identical whichever worker answers.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from support.config import Config

log = logging.getLogger(__name__)

prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

# -- the metrics ----------------------------------------------------------------------------------

DOOR_REQUESTS = Counter(
    "support_door_requests_total",
    "Requests on each door (front, slack, inngest) by outcome: accepted (2xx), refused (4xx, "
    "reason = the error code), unavailable (503), error (other 5xx).",
    ["door", "outcome", "reason"],
)
SLACK_ACK_SECONDS = Histogram(
    "support_slack_ack_seconds",
    "Time to answer (acknowledge) a Slack request on /slack/events; Slack gives up after 3 s.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
DECISIONS = Counter(
    "support_decisions_total",
    "Approval requests decided, by outcome: approved (as proposed), edited (approved with the "
    "approver's edits), rejected, expired.",
    ["outcome"],
)
DECISION_SECONDS = Histogram(
    "support_decision_seconds",
    "Time from an approval request's creation to its decision (or expiry), by outcome.",
    ["outcome"],
    buckets=(60, 300, 900, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800),
)
EXECUTIONS = Counter(
    "support_executions_total",
    "Actions executed, by action type and status (succeeded, failed).",
    ["type", "status"],
)
WORKFLOW_FAILURES = Counter(
    "support_workflow_failures_total",
    "Inngest function runs that failed for good (non-retriable error or retries exhausted), by "
    "function id.",
    ["function"],
)
AGENT_TOKENS = Counter(
    "support_agent_tokens_total",
    "Tokens of the agent's model calls, by kind: input, output, cache_read, cache_write.",
    ["kind"],
)
MODEL_CALLS = Counter(
    "support_agent_model_calls_total",
    "Model calls the agent made (answered ones), by model.",
    ["model"],
)
CALL_ERRORS = Counter(
    "support_external_call_errors_total",
    "Failed calls to Front, Slack and the product apps' integration API, by service and status "
    "(the HTTP status, a Slack error code, timeout or connection).",
    ["service", "status"],
)

PENDING_APPROVALS = "support_approvals_pending"
OLDEST_PENDING = "support_approvals_oldest_pending_seconds"

_enabled = False
_REASON = re.compile(r"[a-z][a-z0-9_]{0,39}")


def configure(config: Config) -> None:
    """Count only when ``/metrics`` can be read (``METRICS_TOKEN`` set)."""
    global _enabled
    _enabled = bool(config.metrics_token)
    if _enabled and multiprocess_dir() is None and _gunicorn_workers() > 1:
        log.warning(
            "metrics.single_process PROMETHEUS_MULTIPROC_DIR is not set: each gunicorn worker "
            "counts on its own and a scrape sees one worker's numbers"
        )


def enabled() -> bool:
    return _enabled


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _gunicorn_workers() -> int:
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1"))
    except ValueError:
        return 1


# -- the calls the rest of the code makes ---------------------------------------------------------


def door(name: str, outcome: str, reason: str = "") -> None:
    """One request on a door (``front``, ``slack``, ``inngest``)."""
    if _enabled:
        DOOR_REQUESTS.labels(name, outcome, reason if _REASON.fullmatch(reason) else "other").inc()


def door_response(name: str, status: int, error_code: str | None, seconds: float) -> None:
    """A door's answer, classified by status (``support.web.metrics`` calls it for every request)."""
    if not _enabled:
        return
    if status < 400:
        door(name, "accepted")
    elif status == 503:
        door(name, "unavailable", error_code or "http_503")
    elif status < 500:
        door(name, "refused", error_code or f"http_{status}")
    else:
        door(name, "error", error_code or f"http_{status}")
    if name == "slack":
        SLACK_ACK_SECONDS.observe(seconds)


def decision(outcome: str, created_at: dt.datetime | None, decided_at: dt.datetime) -> None:
    """An approval request left ``pending``: approved, edited, rejected or expired."""
    if not _enabled:
        return
    DECISIONS.labels(outcome).inc()
    if created_at is not None:
        waited = (decided_at - created_at).total_seconds()
        DECISION_SECONDS.labels(outcome).observe(max(0.0, waited))


def execution(action_type: str, status: str) -> None:
    """An action's execution ended (``succeeded`` or ``failed``)."""
    if _enabled:
        EXECUTIONS.labels(action_type, status).inc()


def workflow_failed(function_id: str) -> None:
    if _enabled:
        WORKFLOW_FAILURES.labels(function_id).inc()


def model_call(model: str, usage: Any) -> None:
    """One answered model call and its token usage (an ``anthropic`` ``Usage`` object)."""
    if not _enabled:
        return
    MODEL_CALLS.labels(model).inc()
    for kind, attr in (
        ("input", "input_tokens"),
        ("output", "output_tokens"),
        ("cache_read", "cache_read_input_tokens"),
        ("cache_write", "cache_creation_input_tokens"),
    ):
        count = getattr(usage, attr, None)
        if isinstance(count, int) and count > 0:
            AGENT_TOKENS.labels(kind).inc(count)


def call_error(service: str, status: int | str | None) -> None:
    """A call to ``front``, ``slack`` or ``integration`` failed with ``status`` (an HTTP status, a
    Slack error code, ``timeout`` or ``connection``); None = an answer of the wrong shape."""
    if not _enabled:
        return
    label = str(status) if status is not None else "invalid"
    if not _REASON.fullmatch(label) and not label.isdigit():
        label = "other"
    CALL_ERRORS.labels(service, label).inc()


# -- scraping ---------------------------------------------------------------------------------------


class DatabaseCollector(Collector):
    """Pending approvals, read from the database at scrape time (one indexed COUNT/MIN query)."""

    def collect(self) -> Iterator[Metric]:
        from sqlalchemy import func, select

        from support import db
        from support.db.models import ApprovalRequest, utcnow

        pending = GaugeMetricFamily(
            PENDING_APPROVALS, "Approval requests waiting for a decision now."
        )
        oldest = GaugeMetricFamily(
            OLDEST_PENDING,
            "Age of the oldest approval request still waiting for a decision (0 when none).",
        )
        try:
            with db.session() as s:
                count, first = s.execute(
                    select(func.count(), func.min(ApprovalRequest.created_at)).where(
                        ApprovalRequest.status == "pending"
                    )
                ).one()
        except Exception as exc:  # a scrape must answer even without the database
            log.warning("metrics.pending_query_failed error=%s", type(exc).__name__)
            return
        pending.add_metric([], float(count or 0))
        age = (utcnow() - first).total_seconds() if first is not None else 0.0
        oldest.add_metric([], max(0.0, age))
        yield pending
        yield oldest


class _ProcessRegistry(Collector):
    """Single-process mode: everything in prometheus_client's default registry (the metrics above
    and its process/platform/GC collectors)."""

    def collect(self) -> Iterable[Metric]:
        return prometheus_client.REGISTRY.collect()


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: every worker's values (multiprocess) or this process's, plus the
    database gauges."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessRegistry())
    registry.register(DatabaseCollector())
    return registry


def render() -> bytes:
    """The Prometheus text exposition of every metric."""
    return prometheus_client.generate_latest(scrape_registry())


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
