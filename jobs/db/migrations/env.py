"""Alembic's environment, async-aware.

``jobs.db.migrate`` (behind ``queue-system db …``) hands Alembic an open connection in
``config.attributes["connection"]``, already inside the caller's event loop. Without one (Alembic started some
other way) this builds the engine from ``DATABASE_URL`` and runs the migrations in a fresh event loop.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from jobs.config import AppSettings
from jobs.db import products, whatsapp  # noqa: F401  (their tables are part of Base.metadata)
from jobs.db.engine import Database
from jobs.db.models import Base
from jobs.db.schema_filter import include_name

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        include_name=include_name,  # the search index is raw DDL, not a model (see jobs/db/schema_filter.py)
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_new_engine() -> None:
    settings = AppSettings.from_env()
    database = Database(settings.resolved_database_url, schema=settings.database_schema)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(_configure)
    finally:
        await database.dispose()


def _run_offline() -> None:
    context.configure(
        url=AppSettings.from_env().resolved_database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif isinstance(connection := config.attributes.get("connection"), Connection):
    _configure(connection)
else:
    asyncio.run(_run_with_new_engine())
