"""Applying the Alembic migrations from code, inside the caller's event loop.

The CLI (``queue-system db upgrade``), the tests and the demo all go through here: Alembic gets a connection
that is already open on the async engine, so its ``env.py`` never has to start an event loop of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from .engine import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code (the package ships no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "v%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    # New revision files come out as the project's lint and format checks want them.
    config.set_section_option("post_write_hooks", "hooks", "ruff_fix, ruff_format")
    config.set_section_option("post_write_hooks", "ruff_fix.type", "module")
    config.set_section_option("post_write_hooks", "ruff_fix.module", "ruff")
    config.set_section_option("post_write_hooks", "ruff_fix.options", "check --fix --quiet REVISION_SCRIPT_FILENAME")
    config.set_section_option("post_write_hooks", "ruff_format.type", "module")
    config.set_section_option("post_write_hooks", "ruff_format.module", "ruff")
    config.set_section_option("post_write_hooks", "ruff_format.options", "format --quiet REVISION_SCRIPT_FILENAME")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(database: Database, revision: str = "head") -> None:
    await _run(database, lambda config: command.upgrade(config, revision))


async def downgrade(database: Database, revision: str) -> None:
    await _run(database, lambda config: command.downgrade(config, revision))


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def new_revision(message: str, *, autogenerate: bool = False) -> None:
    """Write a new revision file (``--autogenerate`` compares the models with the database at DATABASE_URL)."""
    command.revision(alembic_config(), message=message, autogenerate=autogenerate)


async def _run(database: Database, action: Callable[[Config], None]) -> None:
    async with database.engine.begin() as connection:
        await connection.run_sync(lambda sync: action(alembic_config(sync)))
