"""Fixtures for the end-to-end suite: one gunicorn app per database, fakes reset per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from support.db.models import Base
from tests.conftest import ANTHROPIC_KEY, FRONT_TOKEN, INTEGRATION_SECRET, SLACK_TOKEN, TEAM_ID
from tests.e2e.harness import World, register_product_app, start_app, stop_app
from tests.fakes.anthropic import AnthropicFake
from tests.fakes.front import FrontFake
from tests.fakes.inngest_double import InngestDouble
from tests.fakes.integration import IntegrationFake
from tests.fakes.slack import SlackFake


def _empty_tables(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(scope="module")
def world_base(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    _empty_tables(database_url)
    fakes = [
        InngestDouble(),
        SlackFake(SLACK_TOKEN, team_id=TEAM_ID),
        FrontFake(FRONT_TOKEN),
        AnthropicFake(ANTHROPIC_KEY),
        IntegrationFake(INTEGRATION_SECRET),
    ]
    for fake in fakes:
        fake.start()
    world = World(database_url, *fakes)  # type: ignore[arg-type]
    try:
        start_app(world, Path(tmp_path_factory.mktemp("e2e")))
        world.inngest.sync(world.url + "/api/inngest")
        yield world
    finally:
        stop_app(world)
        for fake in fakes:
            fake.stop()


@pytest.fixture
def world(world_base: World) -> Iterator[World]:
    """A clean world per test: empty tables, one registered app, fresh fakes and runs."""
    world_base.inngest.wait_idle(timeout=30, raise_on_timeout=False)
    _empty_tables(world_base.database_url)
    for fake in (world_base.slack, world_base.front, world_base.anthropic, world_base.integration):
        fake.reset()
    world_base.inngest.reset()
    register_product_app(world_base)
    yield world_base
