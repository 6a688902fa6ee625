"""Shared fixtures: databases (SQLite and MariaDB), Flask's ``app`` / ``client`` / ``runner``, and
``world`` (the app served in process with the Inngest double and the loopback fakes, from
``tests/world.py``, where the constants and scenario verbs live).

Every test that takes ``database_url`` runs twice: on a SQLite file and on MariaDB. The MariaDB
runs use a database of their own, ``test_<random>``, created (and migrated) when the session first
needs it and dropped when it ends, on the server ``TEST_MYSQL_URL`` names (default
``mysql+pymysql://root@127.0.0.1:3306``; a database name in that URL is ignored). Any number of test
sessions can share one server; nothing else on it is touched. Without MariaDB those runs are
skipped, unless ``REQUIRE_MYSQL=1`` (CI), where they fail.
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
from tests.world import World, empty_tables, open_world, settings

if TYPE_CHECKING:
    from flask import Flask
    from flask.testing import FlaskClient, FlaskCliRunner

MYSQL_SERVER_URL = sa.make_url(
    os.environ.get("TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
).set(database=None)


def _mysql_reachable(url: str) -> str | None:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def mysql_database() -> Iterator[str]:
    """A MariaDB database of this session's own (``test_<random>``), dropped at the end."""
    server = MYSQL_SERVER_URL.render_as_string(hide_password=False)
    problem = _mysql_reachable(server)
    if problem:
        if os.environ.get("REQUIRE_MYSQL") == "1":
            pytest.fail(f"REQUIRE_MYSQL=1 but MariaDB is unreachable at {server}: {problem}")
        pytest.skip(f"MariaDB unreachable ({problem}); set REQUIRE_MYSQL=1 to fail instead")
    name = f"test_{secrets.token_hex(6)}"
    admin = sa.create_engine(server)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = MYSQL_SERVER_URL.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "mysql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "mysql":
        url: str = request.getfixturevalue("mysql_database")
        return url
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    return url


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
