"""Engine and sessions, created on first use (importing this opens no socket and no file).

``configure(url)`` is called by the app factory with the validated ``DATABASE_URL``; the engine itself
is built by the first ``engine()`` / ``session()`` call. On MySQL a pooled connection that sat idle
for more than ``PING_AFTER_IDLE_SECONDS`` is pinged at checkout, so a restarted server costs one
reconnect, not an error (a connection back in use within that second skips the ping's round trip),
and there is no reset-on-return ROLLBACK (every unit of work ends its own transaction; see
``build_engine``); ``reader()`` is an autocommit MySQL engine for fresh
one-statement reads (one round trip each); SQLite gets WAL and a busy timeout so concurrent writers
wait instead of failing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

_lock = threading.Lock()
_url: str | None = None
_engine: Engine | None = None
_reader: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None


def configure(url: str) -> None:
    """Set the database URL; an engine built for another URL is disposed."""
    global _url, _engine, _reader, _sessionmaker
    with _lock:
        if url == _url:
            return
        for built in (_engine, _reader):
            if built is not None:
                built.dispose()
        _url, _engine, _reader, _sessionmaker = url, None, None, None


def url() -> str:
    if _url is None:
        raise RuntimeError("support.db.configure(url) has not been called")
    return _url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# Seconds. A hung server (not a refused connection: a stopped process, a full disk, a lock) must
# not hold a worker for ever: units of work give up after WORK_TIMEOUTS; the Front door's read,
# which must answer Front within 5 s, after DOOR_TIMEOUTS (then 503, and Front delivers again).
WORK_TIMEOUTS: dict[str, float] = {"connect_timeout": 3, "read_timeout": 15, "write_timeout": 15}
DOOR_TIMEOUTS: dict[str, float] = {
    "connect_timeout": 1.5,
    "read_timeout": 1.5,
    "write_timeout": 1.5,
}
MIGRATION_TIMEOUTS: dict[str, float] = {"connect_timeout": 10}

POOL: dict[str, Any] = {
    # No ROLLBACK when a connection goes back to the pool: every checkout ends its own
    # transaction (``session()`` commits or rolls back; a ``Connection`` closed inside a
    # transaction rolls it back itself, and the pool then skips its reset anyway). The reset
    # only ever ran after a COMMIT, one needless round trip per unit of work. (The autocommit
    # reader has no transaction to end at all.)
    "pool_reset_on_return": None,
    "pool_recycle": 1800,
    "pool_size": 5,
    "max_overflow": 10,
}
"""The MySQL pool settings both engines share (each passes its own ``connect_args``)."""


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled MySQL connection idle longer than this is pinged before use (one round trip).

``pool_pre_ping`` would ping at every checkout: one round trip per unit of work, about 0.15 ms of
CPU, in every click, webhook and step under load. A connection checked in less than a second ago
was alive then; the server restarting in between is what the ping is for, and a restart takes
longer than that (the server first stops, refusing every checkout meanwhile). If the connection did
die within that second (an operator's KILL), the unit of work fails once with a disconnect error,
which invalidates the whole pool, and its caller's usual failure path applies (a click is told it
was not recorded, a step is retried, Front delivers again)."""

_LAST_USED = "support.last_used"


def _ping_when_idle(built: Engine) -> None:
    """Ping at checkout only a connection idle for more than ``PING_AFTER_IDLE_SECONDS``; a dead
    one invalidates the pool (every older connection is replaced) and a fresh one is used."""

    def mark(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get(_LAST_USED, 0.0)
        if idle <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            dbapi_connection.ping(reconnect=False)
        except Exception as exc:
            raise InvalidatePoolError(f"pooled connection dead after {idle:.1f} s idle") from exc

    event.listen(built, "connect", mark)
    event.listen(built, "checkin", mark)
    event.listen(built, "checkout", checkout)


def build_engine(database_url: str, *, timeouts: dict[str, float] | None = None) -> Engine:
    """The engine for units of work; ``timeouts`` replaces WORK_TIMEOUTS on MySQL (migrations
    pass ``MIGRATION_TIMEOUTS``: an ALTER on a large table may run for minutes)."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        eng = create_engine(database_url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(eng, "connect", _sqlite_pragmas)
        return eng
    built = create_engine(
        database_url, connect_args=WORK_TIMEOUTS if timeouts is None else timeouts, **POOL
    )
    # A restarted server: the ping of an idle connection finds it dead and the pool replaces it
    # (and every older one), so the request that checks it out still succeeds; a disconnect seen
    # mid-statement invalidates every older pooled connection as well.
    _ping_when_idle(built)
    return built


def build_reader(database_url: str) -> Engine:
    """A MySQL engine for single-statement reads that must be fresh (the Front door's inbox
    lookup): autocommit, so a SELECT is the only round trip (no transaction to end, no ROLLBACK;
    ``skip_autocommit_rollback``) and no pre-ping. A connection the server dropped (a restart)
    raises a disconnect error, which invalidates it and every older pooled connection; the
    caller retries the read once (see ``support.apps.inbox_owner``)."""
    return create_engine(
        database_url,
        isolation_level="AUTOCOMMIT",
        skip_autocommit_rollback=True,
        connect_args=DOOR_TIMEOUTS,
        **POOL,
    )


def reader() -> Engine:
    """The engine for fresh single-statement reads: ``build_reader`` on MySQL; on SQLite (no
    round trips to save) the ordinary engine."""
    global _reader
    if url().startswith("sqlite"):
        return engine()
    if _reader is None:
        with _lock:
            if _reader is None:
                _reader = build_reader(url())
    return _reader


def engine() -> Engine:
    global _engine, _sessionmaker
    if _engine is None:
        with _lock:
            if _engine is None:
                _engine = build_engine(url())
                _sessionmaker = sessionmaker(_engine, expire_on_commit=False)
    return _engine


@contextmanager
def session() -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on error, always closes."""
    engine()
    assert _sessionmaker is not None
    with _sessionmaker.begin() as s:
        yield s


def dispose() -> None:
    for built in (_engine, _reader):
        if built is not None:
            built.dispose()
