"""Fixtures for the certificate system: the domain database on SQLite and PostgreSQL, app settings in temporary
directories, a real aiosmtpd mail sink on loopback, and worker settings for the certificate jobs.

Every database test runs twice, once per backend (``database`` is parametrized). The PostgreSQL variant uses the
local server (127.0.0.1:5432, trust auth, database ``test``) in a schema created for this test session and
dropped after it; it is skipped when the server is not reachable, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import delete

from jobs.config import AppSettings
from jobs.db import Certificate, Database, EmailDelivery, Event, Participant
from jobs.db.migrate import upgrade
from jobs.db.products import ProductBatch, ProductItem
from jobs.db.whatsapp import WhatsAppBlast, WhatsAppDelivery, WhatsAppRecipient, WhatsAppTemplate
from jobs.mail_sink import EmlDirectorySink, bound_port, start_sink
from queue_system import QueueConfig

from .helpers import Sink, make_worker_settings

PG_HOST, PG_PORT, PG_DATABASE = "127.0.0.1", 5432, "test"
PG_USERS = ("postgres", "root")
WHATSAPP_TABLES = (WhatsAppDelivery, WhatsAppRecipient, WhatsAppBlast, WhatsAppTemplate)
PRODUCT_TABLES = (ProductItem, ProductBatch)


@dataclass(frozen=True)
class DatabaseTarget:
    backend: str
    url: str
    schema: str = ""


@pytest.fixture(scope="session")
def jobs_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data dir for the session, so the prepared certificate fonts are built once."""
    return tmp_path_factory.mktemp("jobs-data")


@pytest.fixture(scope="session")
async def sqlite_target(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTarget:
    path = tmp_path_factory.mktemp("sqlite") / "app.db"
    target = DatabaseTarget("sqlite", f"sqlite+aiosqlite:///{path}")
    await _migrate(target)
    return target


@pytest.fixture(scope="session")
async def postgres_target() -> AsyncIterator[DatabaseTarget]:
    user, reason = await _postgres_user()
    if user is None:
        message = f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}/{PG_DATABASE} ({reason})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    schema = f"qs_jobs_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database=PG_DATABASE)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        target = DatabaseTarget("postgresql", f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{PG_DATABASE}", schema)
        await _migrate(target)
        yield target
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_target(request: pytest.FixtureRequest) -> DatabaseTarget:
    target: DatabaseTarget = request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_target")
    return target


@pytest.fixture
async def database(database_target: DatabaseTarget) -> AsyncIterator[Database]:
    """The migrated database of one backend, emptied before the test."""
    db = Database(database_target.url, schema=database_target.schema)
    async with db.session() as session, session.begin():
        for model in (EmailDelivery, Certificate, Participant, Event, *WHATSAPP_TABLES, *PRODUCT_TABLES):
            await session.execute(delete(model))
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[Sink]:
    """A real SMTP server (aiosmtpd) on a free loopback port that stores every message as an .eml file."""
    handler = EmlDirectorySink(tmp_path / "mail")
    server = await start_sink(handler)
    try:
        yield Sink(handler, bound_port(server))
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def app_settings(database_target: DatabaseTarget, jobs_data_dir: Path, tmp_path: Path, sink: Sink) -> AppSettings:
    return AppSettings(
        data_dir=jobs_data_dir,
        database_url=database_target.url,
        database_schema=database_target.schema,
        certificate_dir=tmp_path / "certificates",
        smtp_url=sink.url,
        mail_sink_dir=tmp_path / "mail",
        certificate_render_processes=0,  # in the worker's threads: a pool per runtime would start 2 processes
    )


@pytest.fixture
def certificate_worker(config: QueueConfig, app_settings: AppSettings) -> type:
    """Worker settings for the certificate jobs, with the runtime opened by the startup hook."""
    return make_worker_settings(config, app_settings)


async def _migrate(target: DatabaseTarget) -> None:
    db = Database(target.url, schema=target.schema)
    try:
        await upgrade(db)
    finally:
        await db.dispose()


async def _postgres_user() -> tuple[str | None, str]:
    reason = ""
    for user in PG_USERS:
        try:
            connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database=PG_DATABASE, timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            continue
        await connection.close()
        return user, ""
    return None, reason
