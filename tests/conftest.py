"""Shared fixtures: databases (SQLite and MariaDB), Flask's ``app`` / ``client`` / ``runner``, and
``world`` (the app served in process with the Inngest double and the loopback fakes, from
``tests/world.py``, where the constants and scenario verbs live).

Every test that takes ``database_url`` runs twice: on a SQLite file and on MariaDB. The MariaDB
runs use a database of their own, ``test_<random>``, created (and migrated) when the session first
needs it and dropped when it ends, on the server ``TEST_MYSQL_URL`` names (default
``mysql+pymysql://root@127.0.0.1:3306``; a database name in that URL is ignored). Any number of test
sessions can share one server; nothing else on it is touched. Without MariaDB those runs are
skipped, unless ``REQUIRE_MYSQL=1`` (CI), where they fail.

Under pytest-xdist (``make test`` runs ``-n 2``) each worker is a session of its own: its own
``test_<random>`` database, SQLite files and private MariaDB server, free ports everywhere.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

# ``import app`` builds the module-level app from the environment: give it dev mode.
os.environ.setdefault("INNGEST_DEV", "1")

from support.db import migrate
from tests.private_mariadb import PrivateMariaDB, private_mariadb_or_skip
from tests.world import World, empty_tables, open_world, settings

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient, FlaskCliRunner

MYSQL_SERVER_URL = sa.make_url(
    os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
).set(database=None)


def _share_tls_contexts() -> None:
    """One default TLS context per test process for every httpx client.

    httpx builds a new ``ssl.SSLContext`` for each client (``httpx.post`` makes a client per call),
    loading the whole CA bundle each time: ~50 ms of CPU, and the tests make thousands of plain-HTTP
    calls to loopback fakes. The context for the default arguments is the same every time, so it
    is built once. (Only the test process: the gunicorn and CLI subprocesses are untouched.)"""
    from httpx._transports import default

    build = default.create_ssl_context
    shared: dict[bool, Any] = {}

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is not True or cert is not None:
            return build(verify=verify, cert=cert, trust_env=trust_env)
        if trust_env not in shared:
            shared[trust_env] = build(verify=verify, cert=cert, trust_env=trust_env)
        return shared[trust_env]

    default.create_ssl_context = create_ssl_context  # type: ignore[assignment]


_share_tls_contexts()


def _mysql_reachable(url: str) -> tuple[str | None, bool]:
    """(why the server cannot be used, or None; whether it offers TLS)."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            have_ssl = conn.execute(sa.text("SELECT @@have_ssl")).scalar()
        return None, have_ssl == "YES"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}", False
    finally:
        engine.dispose()


def _without_tls(url: sa.URL) -> sa.URL:
    """``url`` with ``ssl_disabled=true``, unless it says something about TLS itself. For a server
    that offers no TLS: PyMySQL's default (TLS when offered) builds a TLS context, loading the CA
    bundle, for every connection (~35 ms of CPU each) only to find none; the connection is the
    same plain one either way."""
    if any(key.startswith("ssl") for key in url.query):
        return url
    return url.update_query_dict({"ssl_disabled": "true"})


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    """A MariaDB database of this session's own (``test_<random>``), dropped at the end."""
    server = MYSQL_SERVER_URL.render_as_string(hide_password=False)
    problem, tls = _mysql_reachable(server)
    if problem:
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(f"REQUIRE_MYSQL=1 but MariaDB is unreachable at {server}: {problem}")
        pytest.skip(f"MariaDB unreachable ({problem}); set REQUIRE_MYSQL=1 to fail instead")
    name = f"test_{secrets.token_hex(6)}"
    admin = sa.create_engine(server)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    database = MYSQL_SERVER_URL.set(database=name)
    url = (database if tls else _without_tls(database)).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """This session's SQLite database (a file in pytest's temporary directory), migrated."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session", params=["sqlite", "mysql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """One database of this session's per backend (made once, however often the tests switch)."""
    url: str = request.getfixturevalue(f"{request.param}_database")
    return url


@pytest.fixture(scope="session")
def private_mariadb() -> Iterator[PrivateMariaDB]:
    """A private MariaDB server (``tests/private_mariadb.py``) for the tests that stop, freeze or
    restart their database: one per session, started when first needed. Each module makes its own
    database on it; a test that stops or freezes it starts or thaws it again before it ends."""
    with private_mariadb_or_skip() as server:
        yield server


@pytest.fixture
def clean_db(database_url: str) -> Iterator[str]:
    """Empty every table before the test (the schema stays)."""
    empty_tables(database_url)
    yield database_url


@pytest.fixture
def inngest() -> Iterator[Any]:
    from tests.fakes.inngest_double import InngestDouble

    with InngestDouble() as double:
        yield double


@pytest.fixture
def app(clean_db: str) -> Flask:
    """Flask's usual fixture: the app on this session's (emptied) database, nothing served."""
    from app import create_app

    return create_app(settings(clean_db))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def world_env() -> dict[str, str]:
    """Settings a module's ``world`` adds to ``tests.world.settings`` (override in the module)."""
    return {}


@pytest.fixture
def world(clean_db: str, inngest: Any, world_env: dict[str, str]) -> Iterator[World]:
    """A world of its own for one test: the app in process over HTTP, fresh fakes, clean tables,
    the product app registered and the functions synced to ``inngest``."""
    with open_world(clean_db, inngest=inngest, **world_env) as w:
        yield w
