"""One async engine and session factory per process, for SQLite (the embedded default) or PostgreSQL.

SQLite needs three things to serve a worker running many jobs at once, and get them on every new connection:
WAL (readers never wait for the writer), a busy timeout (a writer waits for the lock instead of failing), and
``BEGIN IMMEDIATE`` (a transaction takes the write lock when it starts, so a read-then-write transaction cannot
fail half-way with "database is locked" when another writer got there first; busy_timeout cannot help then).
Transactions are kept short for this reason: none spans rendering a PDF or talking to an SMTP server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Insert, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .transactions import TransactionThread

SQLITE_BUSY_TIMEOUT_MS = 30_000
T = TypeVar("T")


class Database:
    """The engine, the session factory and what they were built from."""

    def __init__(self, url: str | URL, *, schema: str = "") -> None:
        self.url = make_url(url)
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(self.url, connect_args=self._connect_args(), **self._pool_args())
        if self.is_sqlite:
            _prepare_sqlite_file(self.url)
            _configure_sqlite(self.engine.sync_engine)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._inserts_ignoring: dict[type[Any], Insert] = {}
        self._transaction_thread: TransactionThread | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def session(self) -> AsyncSession:
        return self.sessions()

    async def dispose(self) -> None:
        thread, self._transaction_thread = self._transaction_thread, None
        if thread is not None:
            await thread.close()
        await self.engine.dispose()

    async def run_transaction(self, work: Callable[[Connection], T]) -> T:
        """``work(connection)`` in one transaction, for short hot-path transactions (see ``transactions``): on
        SQLite in one hand-off to this database's transaction thread, on PostgreSQL through the async engine."""
        if not self.is_sqlite:
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)
        if self._transaction_thread is None:
            self._transaction_thread = TransactionThread(self.url, _configure_sqlite)
        return await self._transaction_thread.run(work)

    def insert_ignoring(self, model: type[Any]) -> Insert:
        """``INSERT … ON CONFLICT DO NOTHING`` (both backends): the row is written unless a unique key already
        has one, in one statement, so a job that may race another one needs no savepoint or retry."""
        statement = self._inserts_ignoring.get(model)
        if statement is None:  # built once per model: building it cost more than running it
            dialect = sqlite if self.is_sqlite else postgresql
            statement = self._inserts_ignoring[model] = dialect.insert(model).on_conflict_do_nothing()
        return statement

    def _pool_args(self) -> dict[str, Any]:
        if self.is_sqlite:
            # One connection per process: SQLite runs one writer at a time anyway, and waiting for the pool's
            # connection is an asyncio hand-off, while waiting on SQLite's lock is its busy handler sleeping
            # (up to 100 ms a time): with ten jobs at once that turned 5 ms transactions into 50 ms ones.
            return {"pool_size": 1, "max_overflow": 0}
        return {}

    def _connect_args(self) -> dict[str, Any]:
        if not self.schema:
            return {}
        if self.url.get_backend_name() != "postgresql" or self.url.get_driver_name() != "asyncpg":
            raise ValueError("DATABASE_SCHEMA is supported for postgresql+asyncpg only")
        return {"server_settings": {"search_path": self.schema}}

    def __repr__(self) -> str:
        return f"<Database {self.url.render_as_string(hide_password=True)}>"


def _prepare_sqlite_file(url: URL) -> None:
    """Create the directory of a file database, so the default works on a fresh clone."""
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we send BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
