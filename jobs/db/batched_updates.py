"""One kind of row update, sent by many concurrent jobs of a worker, written together (a group commit).

A job's last write (a certificate marked generated, an email marked accepted) is one small UPDATE. Alone, it
costs a transaction: BEGIN, the statement, COMMIT, each a hand-off to the database driver's thread (aiosqlite)
or a round trip (asyncpg), and on SQLite each takes the one write lock. Jobs that finish while a batch is being
written wait for the next one, so under load each transaction carries many rows in one ``executemany``, and
with a single job it is the same single transaction as before.

Each caller returns only after its row is committed, so a job is never reported done before its update is
durable; if the batch's transaction fails, every job in it sees the error and is retried by its policy (the
updates set absolute values, so writing one twice is harmless).
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Update

from .engine import Database


class BatchedUpdates:
    """``await updates.write(params)`` runs ``statement`` with ``params``, batched with concurrent writes."""

    def __init__(self, db: Database, statement: Update) -> None:
        self.db = db
        self.statement = statement
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.transactions = 0  # how many batches were written (fewer than writes under load)

    async def write(self, params: dict[str, Any]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((params, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        await asyncio.shield(done)  # a cancelled job must not cancel the batch its neighbours wait for

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                async with self.db.engine.begin() as connection:
                    await connection.execute(self.statement, [params for params, _ in batch])
            except Exception as exc:  # every job of the batch sees it and is retried
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                self.transactions += 1
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
