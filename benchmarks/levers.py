"""Each database lever of issue 13 alone, in one process: CPU and round trips per call, A vs B.

``python -m benchmarks.levers [--calls N]`` against MariaDB (``BENCH_MYSQL_URL``, database
``support_agent_levers``, recreated). One thread, no HTTP: each variant is called in blocks of 100,
the variants alternating, and the median block gives CPU per call (``time.thread_time``: this
thread's CPU only, so other load on the machine matters much less than for wall time) and wall
time per call. Round trips are counted at the driver (every PyMySQL command: queries, COMMIT,
ROLLBACK, ping).

The "before" variants are main's code as it was (kept here, verbatim in behaviour): the audit row as
an ORM object flushed by the session, the inbox lookup with an expanding IN, the pool with
pre-ping and reset-on-return.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import pymysql
import sqlalchemy as sa
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.run import MARIADB_SERVER
from support import apps, audit
from support.db import build_reader, migrate
from support.db.models import App, AuditLog

DATABASE = "support_agent_levers"
INBOX = "inb_levers"

commands = 0
_original = pymysql.connections.Connection._execute_command


def _counting(self: Any, command: int, sql: Any) -> Any:
    global commands
    commands += 1
    return _original(self, command, sql)


pymysql.connections.Connection._execute_command = _counting  # type: ignore[method-assign]


def engine(url: str, **pool: Any) -> sa.Engine:
    return sa.create_engine(
        url,
        pool_recycle=1800,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": 5},
        **pool,
    )


_OWNERS_IN = select(App.front_inbox_id, App.id).where(
    App.front_inbox_id.in_(bindparam("ids", expanding=True))
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant")
    args = parser.parse_args(argv)

    server = sa.create_engine(MARIADB_SERVER)
    with server.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.exec_driver_sql(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
    server.dispose()
    url = MARIADB_SERVER.rstrip("/") + "/" + DATABASE
    migrate.upgrade(url)

    main_pool = engine(url, pool_pre_ping=True)  # main: pre-ping + reset-on-return ROLLBACK
    new_pool = engine(url, pool_pre_ping=True, pool_reset_on_return=None)  # this branch
    no_ping = engine(url, pool_pre_ping=False, pool_reset_on_return=None)  # for the ping's price
    reader = build_reader(url)  # this branch's inbox lookup: autocommit, no ping, no ROLLBACK
    with Session(new_pool) as s, s.begin():
        s.add(
            App(
                slug="levers",
                name="Levers",
                front_inbox_id=INBOX,
                integration_base_url="http://127.0.0.1:9",
                integration_secret="s" * 24,
            )
        )

    def audit_orm(eng: sa.Engine) -> Callable[[], None]:
        make = sessionmaker(eng, expire_on_commit=False)

        def call() -> None:
            with make.begin() as s:
                s.add(AuditLog(event="lever", actor="bench", detail={"runId": "x"}))
                s.flush()

        return call

    def audit_core(eng: sa.Engine) -> Callable[[], None]:
        make = sessionmaker(eng, expire_on_commit=False)

        def call() -> None:
            with make.begin() as s:
                audit.append_in(s, "lever", actor="bench", detail={"runId": "x"})

        return call

    def audit_append_core(eng: sa.Engine) -> Callable[[], None]:
        def call() -> None:
            with eng.begin() as conn:
                audit.append_on(conn, "lever", actor="bench", detail={"runId": "x"})

        return call

    def inbox_in(eng: sa.Engine) -> Callable[[], None]:
        def call() -> None:
            with eng.connect() as conn:
                found = dict(conn.execute(_OWNERS_IN, {"ids": [INBOX]}).all())
            assert INBOX in found

        return call

    def inbox_eq(eng: sa.Engine) -> Callable[[], None]:
        def call() -> None:
            with eng.connect() as conn:
                assert conn.execute(apps._OWNER, {"inbox": INBOX}).scalar() is not None

        return call

    levers = [
        (
            "audit row in a unit of work: ORM add + flush -> Core INSERT built once",
            audit_orm(new_pool),
            audit_core(new_pool),
        ),
        (
            "audit.append (step call): ORM session + flush -> Core INSERT on engine.begin()",
            audit_orm(new_pool),
            audit_append_core(new_pool),
        ),
        (
            "inbox lookup: expanding IN -> equality, built once",
            inbox_in(new_pool),
            inbox_eq(new_pool),
        ),
        (
            "inbox lookup: pooled transaction (ping, SELECT, ROLLBACK) -> db.reader() (SELECT)",
            inbox_eq(new_pool),
            inbox_eq(reader),
        ),
        (
            "pool: reset-on-return ROLLBACK -> none (committed unit of work)",
            audit_core(main_pool),
            audit_core(new_pool),
        ),
        (
            "pool: reset-on-return -> none (read-only connection: ROLLBACK by the Connection)",
            inbox_eq(main_pool),
            inbox_eq(new_pool),
        ),
        (
            "(kept) pre-ping -> no pre-ping (committed unit of work)",
            audit_core(new_pool),
            audit_core(no_ping),
        ),
        (
            "main -> this branch, step call's audit (ORM + main pool -> Core + new pool)",
            audit_orm(main_pool),
            audit_append_core(new_pool),
        ),
        (
            "main -> this branch, Front inbox lookup (IN on the main pool -> equality on reader)",
            inbox_in(main_pool),
            inbox_eq(reader),
        ),
    ]
    print(
        "| lever | CPU us/call before -> after | wall us/call before -> after "
        "| round trips before -> after |"
    )
    print("|---|---|---|---|")
    for name, before, after in levers:
        a, b = measure(before, after, args.calls)
        print(
            f"| {name} | {a[0]:.0f} -> {b[0]:.0f} ({b[0] - a[0]:+.0f}) "
            f"| {a[1]:.0f} -> {b[1]:.0f} | {a[2]:g} -> {b[2]:g} |",
            flush=True,
        )
    for eng in (main_pool, new_pool, no_ping, reader):
        eng.dispose()
    return 0


def measure(
    before: Callable[[], None], after: Callable[[], None], calls: int, block: int = 100
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(CPU us, wall us, round trips) per call, medians over alternating blocks."""
    global commands
    for fn in (before, after):
        for _ in range(50):
            fn()
    samples: dict[int, list[tuple[float, float, float]]] = {0: [], 1: []}
    for _ in range(max(1, calls // block)):
        for index, fn in enumerate((before, after)):
            cpu, wall, count = time.thread_time(), time.perf_counter(), commands
            for _ in range(block):
                fn()
            samples[index].append(
                (
                    (time.thread_time() - cpu) * 1e6 / block,
                    (time.perf_counter() - wall) * 1e6 / block,
                    (commands - count) / block,
                )
            )
    out = []
    for index in (0, 1):
        rows = samples[index]
        out.append(tuple(statistics.median(r[k] for r in rows) for k in range(3)))
    return out[0], out[1]  # type: ignore[return-value]


if __name__ == "__main__":
    raise SystemExit(main())
