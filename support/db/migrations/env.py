"""Alembic environment: runs migrations on the engine built by ``support.db``."""

from __future__ import annotations

from alembic import context

from support.db import MIGRATION_TIMEOUTS, build_engine
from support.db.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    connectable = build_engine(url, timeouts=MIGRATION_TIMEOUTS)
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()


run_migrations()
