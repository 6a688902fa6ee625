"""Fixtures for the end-to-end suite: one gunicorn app per database and module, reset per test.

``world_base`` serves the app (dev mode) once per module and database (SQLite and MariaDB, from
``database_url``); ``world`` gives each test a clean world: every scenario table emptied (the product
app registered by the CLI stays), fakes and the Inngest double reset.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.world import World, open_world


@pytest.fixture(scope="module")
def world_base(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with open_world(database_url, tmp_path_factory.mktemp("e2e"), server="gunicorn") as world:
        yield world


@pytest.fixture
def world(world_base: World) -> Iterator[World]:
    world_base.reset()
    yield world_base
    problems = world_base.inngest.protocol_errors
    assert problems == [], problems


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "runs_last: moved to the end of the session (restarts a shared server)"
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``runs_last`` (the MariaDB restart) run after everything else."""
    last = [item for item in items if item.get_closest_marker("runs_last")]
    if last:
        items[:] = [item for item in items if item not in last] + last
