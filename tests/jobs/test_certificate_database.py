"""The domain database on SQLite and PostgreSQL: migrations match the models, and the invariants hold."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from jobs.config import AppSettings
from jobs.db import Base, Certificate, Database, Event, Participant
from jobs.db.batched_updates import BatchedUpdates
from jobs.db.migrate import current_revision, head_revision
from jobs.db.schema_filter import include_name

from .helpers import create_event


async def test_the_migrations_create_exactly_the_models(database: Database) -> None:
    assert await current_revision(database) == head_revision()
    async with database.engine.connect() as connection:
        diff = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True, "include_name": include_name}),
                Base.metadata,
            )
        )
    assert diff == []


async def test_timestamps_come_back_timezone_aware_in_utc(database: Database) -> None:
    event_id, _ = await create_event(database, ["Ахмед"])
    async with database.session() as session:
        event = await session.get(Event, event_id)
    assert event is not None and event.created_at.tzinfo == UTC


async def test_ids_are_never_reused_after_the_newest_row_is_deleted(database: Database) -> None:
    first, _ = await create_event(database, ["A"])
    async with database.session() as session, session.begin():
        await session.execute(delete(Event).where(Event.id == first))
    second, _ = await create_event(database, ["B"])
    assert second > first


async def test_deleting_an_event_deletes_its_participants(database: Database) -> None:
    event_id, participant_ids = await create_event(database)
    async with database.session() as session, session.begin():
        await session.execute(delete(Event).where(Event.id == event_id))
    async with database.session() as session:
        left = await session.scalars(select(Participant).where(Participant.id.in_(participant_ids)))
        assert list(left) == []


async def test_one_certificate_per_participant_and_version(database: Database) -> None:
    _, (participant_id, *_) = await create_event(database)
    async with database.session() as session, session.begin():
        session.add(Certificate(participant_id=participant_id, version=1, number="N1", verification_code="c1"))
    with pytest.raises(IntegrityError):
        async with database.session() as session, session.begin():
            session.add(Certificate(participant_id=participant_id, version=1, number="N2", verification_code="c2"))


def test_the_default_database_is_a_sqlite_file_under_the_data_dir(tmp_path: Path) -> None:
    settings = AppSettings.from_env({"APP_DATA_DIR": str(tmp_path)})
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path}/app.db"
    postgres = AppSettings.from_env({"DATABASE_URL": "postgresql+asyncpg://u@h/db", "DATABASE_SCHEMA": "s"})
    assert postgres.resolved_database_url == "postgresql+asyncpg://u@h/db"


async def test_concurrent_updates_are_written_together_and_each_writer_waits_for_its_commit(
    database: Database,
) -> None:
    _, ids = await create_event(database, [f"Participant {i}" for i in range(40)])
    rename = update(Participant).where(Participant.id == bindparam("pid")).values(name=bindparam("to"))
    renames = BatchedUpdates(database, rename)
    await asyncio.gather(*(renames.write({"pid": pid, "to": f"Renamed {pid}"}) for pid in ids))
    async with database.session() as session:
        names = {pid: name for pid, name in await session.execute(select(Participant.id, Participant.name))}
    assert names == {pid: f"Renamed {pid}" for pid in ids}  # committed before write() returned
    assert 1 <= renames.transactions < len(ids)


async def test_a_failed_batch_fails_every_writer_in_it(database: Database) -> None:
    _, (first, second) = await create_event(database, ["A", "B"])
    change = update(Participant).where(Participant.id == bindparam("pid")).values(email=bindparam("to"))
    emails = BatchedUpdates(database, change)
    results = await asyncio.gather(
        *(emails.write({"pid": pid, "to": "same@example.test"}) for pid in (first, second)), return_exceptions=True
    )
    assert all(isinstance(result, IntegrityError) for result in results)  # (event, email) is unique


async def test_a_failed_transaction_is_rolled_back_and_the_next_one_commits(database: Database) -> None:
    """``run_transaction`` keeps one connection between transactions on SQLite: a failure must not leave it in a
    transaction, or the next caller's writes would be rolled back with it (or never committed)."""
    event_id, _ = await create_event(database, ["A"])
    rename = update(Event).where(Event.id == event_id)

    def rename_then_fail(connection: Connection) -> None:
        connection.execute(rename.values(name="lost"))
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError, match="the work failed"):
        await database.run_transaction(rename_then_fail)
    await database.run_transaction(lambda connection: connection.execute(rename.values(name="kept")))
    names = await asyncio.gather(*(database.run_transaction(_event_name(event_id)) for _ in range(3)))
    assert names == ["kept"] * 3
    async with database.session() as session:  # (a connection of its own: the write was committed)
        assert (await session.get(Event, event_id)).name == "kept"  # type: ignore[union-attr]


def _event_name(event_id: int) -> Callable[[Connection], str]:
    return lambda connection: connection.scalar(select(Event.name).where(Event.id == event_id))
