"""The application's commands, plugged into ``queue-system`` through the ``queue_system.commands`` entry points:

queue-system db upgrade [REVISION]        apply the migrations (default: to the newest)
queue-system db downgrade REVISION        step back (``-1``, a revision id, or ``base``)
queue-system db current                   the database's revision
queue-system db revision -m MSG [--autogenerate]
queue-system demo certificates --participants 3000 [--cleanup]

The command bodies import what they use: the ``queue-system`` command loads this module on every run, and
SQLAlchemy, Alembic, fpdf2 and Faker would add a second to ``queue-system --help``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from queue_system import QueueConfig, QueueSystemError

from .config import AppSettings, SettingsError

if TYPE_CHECKING:
    from .db import Database

T = TypeVar("T")


def _with_database(action: Callable[[Database], Awaitable[T]]) -> T:
    from .db import Database

    settings = _settings()

    async def run() -> T:
        database = Database(settings.resolved_database_url, schema=settings.database_schema)
        try:
            return await action(database)
        finally:
            await database.dispose()

    return asyncio.run(run())


def _settings() -> AppSettings:
    try:
        return AppSettings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def db() -> None:
    """The domain database (DATABASE_URL; default: SQLite in .qs/data/app.db)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from .db import migrate as migrations

    async def _upgrade(database: Database) -> str | None:
        await migrations.upgrade(database, revision)
        return await migrations.current_revision(database)

    current = _with_database(_upgrade)
    click.echo(f"database at revision {current}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. -1 or base)."""
    from .db import migrate as migrations

    _with_database(lambda database: migrations.downgrade(database, revision))
    click.echo(f"database at revision {_with_database(migrations.current_revision) or 'base'}")


@db.command("current")
def db_current() -> None:
    """Print the database's revision (and the newest one the code knows)."""
    from .db import migrate as migrations

    current = _with_database(migrations.current_revision)
    click.echo(f"current: {current or 'none'}\nhead:    {migrations.head_revision()}")


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--autogenerate", is_flag=True, help="Compare the models with the database at DATABASE_URL.")
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new migration file under jobs/db/migrations/versions."""
    from .db import migrate as migrations

    migrations.new_revision(message, autogenerate=autogenerate)


@click.group()
def demo() -> None:
    """Demonstrations of the seed systems with generated test data."""


@demo.command("certificates")
@click.option("--participants", default=3000, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--cleanup", is_flag=True, help="Remove the test event, its rows and files at the end.")
@click.option(
    "--external-worker", is_flag=True, help="Only enqueue and watch; a running `queue-system worker` does the work."
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes per stage.")
# Enough jobs in flight to keep the render processes busy while others wait on the database and Redis (5 left them
# half idle), and the emails' SMTP connections busy while others prepare (bench/RESULTS.md, issue 7, cert2).
@click.option("--generate-concurrency", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--send-concurrency", default=40, show_default=True, type=click.IntRange(1, 100))
@click.option("--seed", type=int, help="Seed for the fake names (the same names every run).")
def demo_certificates(
    participants: int,
    cleanup: bool,
    external_worker: bool,
    workers: int,
    generate_concurrency: int,
    send_concurrency: int,
    seed: int | None,
) -> None:
    """Create a test event with fake participants, generate and email every certificate, time each stage."""
    from .certificates.demo import DemoOptions, run_demo

    if workers > 1 and external_worker:
        raise click.UsageError("--workers starts worker processes; --external-worker expects running ones")
    options = DemoOptions(participants, cleanup, external_worker, workers, generate_concurrency, send_concurrency, seed)
    try:
        config = QueueConfig.from_env(None, **_quiet_worker_logs())
        asyncio.run(run_demo(options, _settings(), config))
    except QueueSystemError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def _quiet_worker_logs() -> dict[str, Any]:
    """The in-process worker's per-job log lines would tear the progress bars; keep warnings and errors."""
    return {} if os.environ.get("QS_LOG_LEVEL") else {"log_level": "WARNING"}
