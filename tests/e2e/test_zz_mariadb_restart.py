"""MariaDB restarted in the middle of a run: the run finishes and no decision is lost.

Runs last (file name) and only where it may restart the local server: as root, with
``/usr/sbin/mariadbd`` present and the test database on 127.0.0.1. MariaDB is stopped with
``mysqladmin shutdown`` and started again the way this machine starts it
(``start-stop-daemon --start --background --exec /usr/sbin/mariadbd``), in a ``finally``: the server
is always running again when the test ends. Other sessions may share the server, so the outage is
kept to a few seconds.

The scenario: an approved refund is executing; the product app takes a few seconds to answer the
refund call; meanwhile the database goes away. The refund call returns, the next step (recording the
result) fails against the dead database and Inngest schedules a retry; the database comes back; the
retry records the result through a reconnected pool (``pool_pre_ping``). A second request, pending in
Slack before the outage, is decided after it: the gunicorn workers' Slack listeners reconnect too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.harness import World, eventually, open_world, render_blocks

MARIADBD = "/usr/sbin/mariadbd"
RETRY_DELAY = 20.0
INTEGRATION_TIMEOUT = 10.0  # virtual seconds: a failed step waits until the test advances the clock

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.runs_last,
    pytest.mark.parametrize("database_url", ["mysql"], indirect=True),
]


def _ping() -> bool:
    result = subprocess.run(
        ["mysqladmin", "--protocol=tcp", "-h127.0.0.1", "-uroot", "--connect-timeout=2", "ping"],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


def _running() -> bool:
    result = subprocess.run(
        ["start-stop-daemon", "--status", "--exec", MARIADBD], capture_output=True, check=False
    )
    return result.returncode == 0


def _until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"MariaDB: timed out waiting until {what}")
        time.sleep(0.1)


def stop_mariadb() -> None:
    subprocess.run(
        ["mysqladmin", "--protocol=tcp", "-h127.0.0.1", "-uroot", "shutdown"],
        capture_output=True,
        check=False,
    )
    _until(lambda: not _running(), 30, "mariadbd has exited")


def start_mariadb() -> None:
    if not _running():
        subprocess.run(
            ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", MARIADBD],
            check=True,
        )
    _until(_ping, 60, "mariadbd answers ping")


@pytest.fixture(scope="module")
def restartable(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    host = urlsplit(database_url).hostname
    if os.geteuid() != 0 or not Path(MARIADBD).exists() or host not in ("127.0.0.1", "localhost"):
        pytest.skip("restarting MariaDB needs root, /usr/sbin/mariadbd and a local test database")
    if not shutil.which("mysqladmin") or not shutil.which("start-stop-daemon"):
        pytest.skip("mysqladmin and start-stop-daemon are needed to restart MariaDB")
    with open_world(
        database_url,
        tmp_path_factory.mktemp("restart"),
        retry_delay=RETRY_DELAY,
        # the refund call must outlive the outage: answer after 4 s, well inside the timeout
        INTEGRATION_TIMEOUT_SECONDS=str(INTEGRATION_TIMEOUT),
    ) as world:
        yield world


def test_run_survives_a_mariadb_restart_and_keeps_every_decision(restartable: World) -> None:
    world = restartable
    world.reset()
    first = world.propose_refund("evt_db1", "cnv_db1")
    second = world.propose_refund("evt_db2", "cnv_db2")
    # the product app applies the refund at once but answers 4 s later (the timeout is 10 s)
    world.integration.slow_next("revoke-access", 4.0)

    assert world.click(first).status_code == 200
    eventually(lambda: world.integration.refunds, what="the refund call in flight")
    outage = time.monotonic()
    try:
        stop_mariadb()
        [execute] = [r for r in world.inngest.runs_for("execute-action")]
        # the refund answer arrives; recording it fails on the dead database: a retry is due
        eventually(
            lambda: [
                h for h in execute.history if h.get("kind") == "retry" or h.get("op") == "StepError"
            ],
            timeout=20,
            what="a step failing on the stopped database",
        )
    finally:
        start_mariadb()
        outage = time.monotonic() - outage
    assert outage < 20, f"MariaDB was down {outage:.1f} s"

    for _ in range(6):  # let the due retries run (each waits RETRY_DELAY virtual seconds)
        run = [
            r
            for r in world.inngest.runs_for("request-approval")
            if r.event["data"]["actionId"] == first
        ][0]
        if run.done:
            break
        world.inngest.advance(RETRY_DELAY + 1, timeout=30)
    assert run.status == "completed", (run.error, world.log()[-4000:])
    assert run.output == {"actionId": first, "status": "approved", "execution": "succeeded"}
    [refund] = world.integration.refunds  # the retries did not refund twice
    assert refund["idempotency_key"] == first
    approval = world.approval(first)
    assert approval["status"] == "approved" and approval["decided_by"] == "U0APPROVER1"
    assert world.action(first)["status"] == "succeeded"
    assert refund["refund_id"] in "\n".join(render_blocks(world.slack_message(first)["blocks"]))
    assert ("approval.approved", "U0APPROVER1") in world.audit(first)

    # the request that waited through the outage is still pending, and can still be decided
    assert world.approval(second)["status"] == "pending"
    assert world.click(second, user="U0APPROVER2").status_code == 200
    eventually(lambda: world.decided_events(second), what="second decision event")
    world.settle()
    assert world.approval(second)["decided_by"] == "U0APPROVER2"
    assert world.action(second)["status"] == "succeeded"
    assert len(world.integration.refunds) == 2
    assert world.inngest.protocol_errors == []
