"""MariaDB restarted in the middle of a run: the run finishes and no decision is lost.

The outage happens on a PRIVATE ``mariadbd`` (``tests/private_mariadb.py``: its own data directory,
socket and free port, started from a copy of the binary), never on the machine's shared MariaDB,
which every other test run uses. The app under gunicorn gets a database on that private server
(created here, migrated by the CLI when the world starts); ``stop()`` shuts that server down (SIGTERM
to the process this test started) and ``start()`` brings it back on the same data directory and port.

The scenario: an approved refund is executing; the product app takes a few seconds to answer the
refund call; meanwhile the database goes away. The refund call returns, the next step (recording the
result) fails against the dead database and Inngest schedules a retry; the database comes back; the
retry records the result through a reconnected pool (the idle ping, ``support.db.PING_AFTER_IDLE_SECONDS``). A second request, pending in
Slack before the outage, is decided after it: the gunicorn workers' Slack listeners reconnect too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.private_mariadb import PrivateMariaDB
from tests.world import World, eventually, open_world, render_blocks

RETRY_DELAY = 20.0
INTEGRATION_TIMEOUT = 10.0  # virtual seconds: a failed step waits until the test advances the clock

pytestmark = [pytest.mark.mysql, pytest.mark.runs_last]


@pytest.fixture(scope="module")
def restartable(
    private_mariadb: PrivateMariaDB, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, PrivateMariaDB]]:
    with open_world(
        private_mariadb.create_database(),
        tmp_path_factory.mktemp("restart"),
        server="gunicorn",
        retry_delay=RETRY_DELAY,
        # the refund call must outlive the outage: answer after 4 s, well inside the timeout
        INTEGRATION_TIMEOUT_SECONDS=str(INTEGRATION_TIMEOUT),
    ) as world:
        yield world, private_mariadb


def test_run_survives_a_mariadb_restart_and_keeps_every_decision(
    restartable: tuple[World, PrivateMariaDB],
) -> None:
    world, server = restartable
    # the private server runs from a copy: nothing matching /usr/sbin/mariadbd can find it
    assert Path(f"/proc/{server.pid}/exe").resolve() == server.binary.resolve()
    world.reset()
    first = world.propose_refund("evt_db1", "cnv_db1")
    second = world.propose_refund("evt_db2", "cnv_db2")
    # the product app applies the refund at once but answers 4 s later (the timeout is 10 s)
    world.integration.slow_next("revoke-access", 4.0)

    assert world.click(first).status_code == 200
    eventually(lambda: world.integration.refunds, what="the refund call in flight")
    outage = time.monotonic()
    try:
        server.stop()
        assert not server.ping()
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
        server.start()
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
