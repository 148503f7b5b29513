"""Short transactions written as plain synchronous code, run with one hand-off each instead of one per call.

aiosqlite runs every cursor call (BEGIN, execute, fetch, close, COMMIT: about ten per small transaction) in its
own thread and wakes the event loop for each result, so a worker paid more for handing a one-row statement over
than SQLite took to run it. For SQLite, :class:`TransactionThread` keeps one synchronous connection (the same
WAL / busy-timeout / ``BEGIN IMMEDIATE`` settings as the async engine, see ``engine``) in one thread of its own and
runs a whole transaction there per hand-off; a busy wait for SQLite's write lock happens in that thread, never in
the event loop. For PostgreSQL the same function runs through the async engine (``run_sync``: asyncpg is already
one round trip per statement).

The function gets a SQLAlchemy ``Connection`` inside ``begin()``: it commits when the function returns and rolls
back if it raises, which the awaiting caller then sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, Connection

T = TypeVar("T")


class TransactionThread:
    """One synchronous SQLite connection, used only from its own thread."""

    def __init__(self, url: URL, configure: Callable[[Engine], None]) -> None:
        self.engine = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
        configure(self.engine)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-transactions")
        # Held between transactions (opened in the thread on first use): a check-out from the pool and back per
        # transaction (with the pool's rollback on return) cost 40-90 us of a one-count transaction's ~200.
        self._connection: Connection | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._in_transaction, work)

    def _in_transaction(self, work: Callable[[Connection], T]) -> T:
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._connection = self.engine.connect()
        with connection.begin():
            return work(connection)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.engine.dispose()

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)
