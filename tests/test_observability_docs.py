"""The dashboard, the alert rules and docs/observability.md use exactly the metrics the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.metrics import MetricWrapperBase

from support import metrics

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "docs" / "observability" / "grafana-dashboard.json"
RULES = ROOT / "docs" / "observability" / "alerts.yml"
DOC = ROOT / "docs" / "observability.md"
NAME = re.compile(r"\bsupport_[a-z0-9_]+\b")

IMPORTANT = {
    "support_approvals_pending",
    "support_approvals_oldest_pending_seconds",
    "support_decisions_total",
    "support_decision_seconds",
    "support_door_requests_total",
    "support_slack_ack_seconds",
    "support_executions_total",
    "support_workflow_failures_total",
    "support_agent_tokens_total",
    "support_agent_model_calls_total",
    "support_external_call_errors_total",
}


def families() -> dict[str, str]:
    """Each metric family the code exports (as documented) -> its type."""
    out = {metrics.PENDING_APPROVALS: "gauge", metrics.OLDEST_PENDING: "gauge"}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            for family in value.collect():
                name = family.name + ("_total" if family.type == "counter" else "")
                out[name] = family.type
    return out


def exported_series() -> set[str]:
    """Every series name a scrape can contain."""
    names: set[str] = set()
    for name, kind in families().items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        else:
            names.add(name)
    return names


def dashboard_exprs() -> list[str]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def rule_exprs() -> list[str]:
    doc = yaml.safe_load(RULES.read_text())
    return [r["expr"] for g in doc["groups"] for r in g["rules"]]


def test_the_code_exports_the_important_metrics() -> None:
    assert set(families()) == IMPORTANT


def test_dashboard_uses_only_exported_metrics_and_shows_the_important_ones() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] and board["panels"]
    exprs = dashboard_exprs()
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used, "no metric in the dashboard"
    assert used <= exported_series(), used - exported_series()
    shown = {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for n in used}
    assert IMPORTANT <= shown, IMPORTANT - shown
    for panel in board["panels"]:
        assert panel["datasource"]["type"] == "prometheus"
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}


def test_alert_rules_are_the_three_and_use_exported_metrics() -> None:
    doc = yaml.safe_load(RULES.read_text())
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    assert set(alerts) == {
        "SupportApprovalsWaitingTooLong",
        "SupportWorkflowFailures",
        "SupportDoor503Rate",
    }
    for rule in alerts.values():
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
    used = {name for expr in rule_exprs() for name in NAME.findall(expr)}
    assert used <= exported_series(), used - exported_series()
    assert (
        "support_approvals_oldest_pending_seconds"
        in alerts["SupportApprovalsWaitingTooLong"]["expr"]
    )
    assert "support_workflow_failures_total" in alerts["SupportWorkflowFailures"]["expr"]
    assert 'outcome="unavailable"' in alerts["SupportDoor503Rate"]["expr"]


def test_the_page_describes_every_metric_and_names_no_other() -> None:
    text = DOC.read_text()
    for name in families():
        assert f"| `{name}` |" in text, f"docs/observability.md does not describe {name}"
    named = set(NAME.findall(text))
    known = exported_series() | set(families())
    assert named <= known, named - known
    # the label values the code can produce are the ones the page lists
    for outcome in ("approved", "edited", "rejected", "expired"):
        assert f"`{outcome}`" in text
    for kind in ("input", "output", "cache_read", "cache_write"):
        assert f"`{kind}`" in text
