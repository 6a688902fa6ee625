"""/metrics under gunicorn with two workers (prometheus_client's multiprocess mode).

A request is counted by whichever worker served it; a scrape, answered by either worker, must show
the sum. Without the multiprocess directory half of the scrapes would miss the other worker's counts.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.world import World, eventually, open_world

TOKEN = "e2e-metrics-token-0123456789"


@pytest.fixture(scope="module")
def metrics_world(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Path]]:
    tmp = tmp_path_factory.mktemp("metrics")
    multiproc = tmp / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_4242.db").write_bytes(b"stale file of a previous run")
    with open_world(
        database_url,
        tmp,
        server="gunicorn",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        WEB_CONCURRENCY="2",
    ) as world:
        yield world, multiproc


@pytest.fixture
def mworld(metrics_world: tuple[World, Path]) -> Iterator[tuple[World, Path]]:
    metrics_world[0].reset()
    yield metrics_world


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    # a new connection each time, so either worker may answer
    response = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def total(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def worker_pids(world: World) -> set[int]:
    assert world.process is not None
    children = Path(f"/proc/{world.process.pid}/task/{world.process.pid}/children")
    return {int(pid) for pid in children.read_text().split()}


KEY_SERIES = (
    ("support_decisions_total", {"outcome": "approved"}),
    ("support_executions_total", {"type": "refund", "status": "succeeded"}),
    ("support_door_requests_total", {"door": "front", "outcome": "accepted"}),
    ("support_agent_model_calls_total", {}),
    ("support_agent_tokens_total", {"kind": "output"}),  # input may be all cache reads
)


def test_every_worker_answers_the_sum_of_all_workers(mworld: tuple[World, Path]) -> None:
    world, multiproc = mworld
    assert not (multiproc / "counter_4242.db").exists()  # emptied when the master started
    assert httpx.get(world.url + "/metrics").status_code == 401

    before = scrape(world.url)
    action_id = world.propose_refund("evt_metrics1", "cnv_metrics1")
    assert world.click(action_id).status_code == 200
    eventually(lambda: world.action(action_id)["status"] == "succeeded", what="executed")
    world.settle()

    scrapes = [scrape(world.url) for _ in range(8)]
    for name, labels in KEY_SERIES:
        moved = {total(s, name, **labels) - total(before, name, **labels) for s in scrapes}
        assert len(moved) == 1, (name, moved)  # every worker gives the same answer
        assert moved.pop() >= 1, name
    assert {total(s, "support_decisions_total", outcome="approved") for s in scrapes} == {
        total(before, "support_decisions_total", outcome="approved") + 1
    }
    assert {total(s, "support_approvals_pending") for s in scrapes} == {0}
    # both workers wrote their own files
    files = {p.name for p in multiproc.iterdir()}
    pids = worker_pids(world)
    assert len(pids) == 2
    assert all(any(name.endswith(f"_{pid}.db") for name in files) for pid in pids), files

    # a worker dies and gunicorn replaces it: child_exit ran, and no count is lost
    victim = next(iter(pids))
    os.kill(victim, signal.SIGKILL)
    eventually(
        lambda: victim not in worker_pids(world) and len(worker_pids(world)) == 2,
        what="worker replaced",
    )
    after = [scrape(world.url) for _ in range(6)]
    for name, labels in KEY_SERIES:
        assert {total(s, name, **labels) for s in after} == {total(scrapes[0], name, **labels)}
