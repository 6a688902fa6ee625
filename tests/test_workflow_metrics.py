"""The Inngest middleware counts a run's failure once, when Inngest will not retry it; the gunicorn
hooks keep prometheus_client's multiprocess directory clean."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import inngest
import pytest
from inngest._internal.middleware_lib.middleware import (
    TransformOutputResult,
    TransformOutputStepInfo,
)
from inngest._internal.server_lib import Opcode
from prometheus_client import REGISTRY

from support import config as config_module
from support import metrics
from support.workflow_metrics import WorkflowFailures
from support.workflows.process_refund import process_refund  # retries=4

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def counting(tmp_path: Path) -> Iterator[None]:
    settings = {"INNGEST_DEV": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    metrics.configure(config_module.load({**settings, "METRICS_TOKEN": "t0123456789"}))
    yield
    metrics.configure(config_module.load(settings))


def failures() -> float:
    value = REGISTRY.get_sample_value(
        "support_workflow_failures_total", {"function": "process-refund"}
    )
    return value or 0.0


def attempt(number: int, error: Exception | None, step: bool = False) -> None:
    middleware = WorkflowFailures(client=None, raw_request=None)  # type: ignore[arg-type]
    middleware.transform_input(SimpleNamespace(attempt=number), process_refund, None)
    info = TransformOutputStepInfo(id="revoke-access", op=Opcode.STEP_ERROR, opts=None)
    middleware.transform_output(
        TransformOutputResult(error=error, output=None, step=info if step else None)
    )


def test_a_retried_error_is_not_a_failure_until_the_last_attempt(counting: None) -> None:
    before = failures()
    for number in range(4):  # attempts 0..3: Inngest retries
        attempt(number, RuntimeError("integration timed out"))
    assert failures() == before
    attempt(4, RuntimeError("integration timed out"))  # retries=4: the fifth attempt is the last
    assert failures() == before + 1


def test_non_retriable_errors_fail_at_once_steps_and_successes_do_not(counting: None) -> None:
    before = failures()
    attempt(0, inngest.NonRetriableError("refund refused"))
    assert failures() == before + 1
    attempt(4, RuntimeError("a step's error"), step=True)  # the step is retried as a step
    attempt(4, None)
    assert failures() == before + 1


def test_nothing_is_counted_with_metrics_off(tmp_path: Path) -> None:
    metrics.configure(
        config_module.load({"INNGEST_DEV": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    )
    before = failures()
    attempt(0, inngest.NonRetriableError("refund refused"))
    assert failures() == before


def gunicorn_conf() -> Any:
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_hooks_clean_the_multiprocess_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = gunicorn_conf()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    for name in ("counter_10.db", "histogram_10.db", "gauge_livesum_10.db", "gauge_all_11.db"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "README").write_text("not ours")

    conf.child_exit(None, SimpleNamespace(pid=10))  # worker 10 exited
    left = {p.name for p in tmp_path.iterdir()}
    assert "gauge_livesum_10.db" not in left  # its live gauges are gone
    assert {"counter_10.db", "histogram_10.db", "gauge_all_11.db"} <= left  # counts are kept

    conf.on_starting(None)  # a new master: the previous run's values are not summed in
    assert {p.name for p in tmp_path.iterdir()} == {"README"}


def test_gunicorn_hooks_do_nothing_without_the_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = gunicorn_conf()
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    conf.child_exit(None, SimpleNamespace(pid=10))
    conf.on_starting(None)
