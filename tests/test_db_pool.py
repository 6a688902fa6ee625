"""The MariaDB pool: no needless round trips, and still no error after the server drops connections.

``support.db`` pings a pooled connection at checkout only when it sat idle for more than
``PING_AFTER_IDLE_SECONDS`` (a dead one is replaced, with every older one), and turns off the pool's
reset-on-return ROLLBACK (every unit of work ends its own transaction). The server dropping every
connection is what a restart does to the pool; here it is done with ``KILL``, on this session's own
connections only (the shared server keeps running).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa

from support import apps, audit, db
from tests.world import empty_tables, make_app


@pytest.fixture
def mysql(mysql_database: str) -> Iterator[str]:
    empty_tables(mysql_database)
    db.configure(mysql_database)
    db.dispose()
    yield mysql_database
    db.dispose()


def session_counter(conn: sa.Connection, name: str) -> int:
    row = conn.exec_driver_sql(f"SHOW SESSION STATUS LIKE '{name}'").one()
    return int(row[1])


def test_a_unit_of_work_commits_once_and_the_pool_adds_no_rollback(mysql: str) -> None:
    with db.engine().connect() as conn:  # the one pooled connection, before and after
        conn_id = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
    with db.engine().connect() as conn:
        before = session_counter(conn, "Com_rollback"), session_counter(conn, "Com_commit")
    audit_id = audit.append("bench.check", actor="test", detail={"n": 1})
    with db.session() as s:
        audit.append_in(s, "bench.check", actor="test", detail={"n": 2})
    with db.engine().connect() as conn:
        assert conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar() == conn_id
        after = session_counter(conn, "Com_rollback"), session_counter(conn, "Com_commit")
    # Two committed units of work: two COMMITs. The rollbacks counted are the two read-only
    # connections above closing their own transaction; none after a COMMIT.
    assert after[1] - before[1] == 2
    assert after[0] - before[0] == 1  # the SHOW before
    with db.engine().connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, event, actor, detail, created_at IS NOT NULL FROM audit_log ORDER BY id"
        ).all()
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("bench.check", "test", '{"n": 1}', 1),
        ("bench.check", "test", '{"n": 2}', 1),
    ]
    assert rows[0][0] == audit_id


def kill(mysql: str, ids: list[Any]) -> None:
    admin = sa.create_engine(mysql)
    with admin.connect() as conn:
        for conn_id in ids:
            conn.exec_driver_sql(f"KILL CONNECTION {int(conn_id)}")
    admin.dispose()


def test_connections_dropped_by_the_server_are_replaced_without_an_error(mysql: str) -> None:
    make_app("acme", name="Acme")
    # Fill both pools with a few connections, then have the server drop all of them.
    held = [db.engine().connect() for _ in range(3)] + [db.reader().connect() for _ in range(3)]
    ids = [c.exec_driver_sql("SELECT CONNECTION_ID()").scalar() for c in held]
    for c in held:
        c.close()
    kill(mysql, ids)
    # A restart keeps the server away for longer than the idle limit (it stops first).
    time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.2)

    # Every request after the "restart" succeeds: the writer's ping finds each dead connection
    # first; the inbox lookup (no ping) retries once on a fresh connection.
    for _ in range(5):
        assert apps.inbox_owner(["inb_other", "inb_acme"]) is not None
        audit.append("after.restart", actor="test")
    with db.engine().connect() as conn:
        live = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        count = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM audit_log WHERE event='after.restart'"
        ).scalar()
    assert live not in ids
    assert count == 5


def test_inbox_owner_takes_the_first_registered_inbox_in_order(mysql: str) -> None:
    first = make_app("one", name="One")
    second = make_app("two", name="Two")
    assert apps.inbox_owner(["inb_two", "inb_one"]) == (second, "inb_two")
    assert apps.inbox_owner(["inb_none", "", "inb_one"]) == (first, "inb_one")
    assert apps.inbox_owner(["inb_none"]) is None
    assert apps.inbox_owner([]) is None


def test_inbox_lookup_is_one_round_trip_and_a_unit_of_work_two(
    mysql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_app("acme", name="Acme")
    assert apps.inbox_owner(["inb_acme"]) is not None  # both pools hold a connection now
    audit.append("warm", actor="test")
    sent: list[str] = []
    original = pymysql.connections.Connection._execute_command

    def recording(self: Any, command: int, sql: Any) -> Any:
        text = sql.decode() if isinstance(sql, bytes) else sql
        sent.append(text if command == 3 else f"command {command}")  # 3: COM_QUERY
        return original(self, command, sql)

    monkeypatch.setattr(pymysql.connections.Connection, "_execute_command", recording)
    assert apps.inbox_owner(["inb_acme"]) is not None
    assert len(sent) == 1 and sent[0].startswith("SELECT apps.id")
    sent.clear()
    audit.append("counted", actor="test")
    # a connection back within the idle limit: the INSERT, the COMMIT; no ping, no ROLLBACK
    assert len(sent) == 2, sent
    assert sent[0].startswith("INSERT INTO audit_log") and sent[1] == "COMMIT"
    sent.clear()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every connection counts as idle
    audit.append("counted", actor="test")
    assert len(sent) == 3, sent  # the ping (COM_PING), then the same two
    assert sent[0] == "command 14" and sent[1].startswith("INSERT INTO audit_log")


def test_a_connection_killed_within_the_idle_limit_fails_one_unit_of_work_out_loud(
    mysql: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The price of skipping the ping: a connection the server dropped less than
    ``PING_AFTER_IDLE_SECONDS`` after its last use fails the one unit of work that takes it, with
    a disconnect error (nothing is written), and that error invalidates the pool: the next one
    succeeds on a fresh connection."""
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    audit.append("warm", actor="test")
    with db.engine().connect() as conn:
        conn_id = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
    kill(mysql, [conn_id])
    with pytest.raises(sa.exc.OperationalError):
        audit.append("lost", actor="test")
    audit.append("after", actor="test")
    with db.engine().connect() as conn:
        assert conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar() != conn_id
        events = conn.exec_driver_sql("SELECT event FROM audit_log ORDER BY id").scalars().all()
    assert events == ["warm", "after"]
