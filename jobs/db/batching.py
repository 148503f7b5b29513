"""Database work of many concurrent jobs of one worker, done in one transaction (a group commit).

A job's database step is often one small statement: a read of its row, a claim, its last update. Alone, each
costs a transaction: BEGIN, the statement, COMMIT, each a hand-off to the driver's thread (aiosqlite) or a round
trip (asyncpg), and on SQLite each takes the one write lock. A :class:`Batcher` collects the calls that arrive
while the previous batch runs (at least those of one event-loop turn) and serves them together, so under load one
transaction carries many jobs' work, and a single job gets the same single transaction as without it.

Each caller gets its own answer only after the batch's transaction committed; if the transaction fails, every
caller in it sees the error and its job is retried by its policy. Subclasses say what one batch runs.
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from sqlalchemy.engine import Connection

from .engine import Database

K = TypeVar("K")  # what one caller asks for (a row id, a statement's parameters)
R = TypeVar("R")  # what it gets back


class Batcher(ABC, Generic[K, R]):
    """``await batcher.submit(key)``: ``key`` served together with the keys of concurrent callers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._waiting: list[tuple[K, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.transactions = 0  # how many batches committed (fewer than calls under load)

    @abstractmethod
    def run(self, connection: Connection, keys: Sequence[K]) -> Sequence[R]:
        """One batch in one transaction: the answer for each of ``keys`` (same length, same order; keys may repeat).

        Synchronous: ``Database.run_transaction`` runs it in one hand-off (see ``transactions``)."""

    async def submit(self, key: K) -> R:
        answer: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, answer))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_batches())
        return await asyncio.shield(answer)  # a cancelled job must not cancel the batch its neighbours wait for

    async def _run_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                answers = await self.db.run_transaction(functools.partial(self.run, keys=[key for key, _ in batch]))
                if len(answers) != len(batch):
                    raise RuntimeError(f"{type(self).__name__}.run answered {len(answers)} of {len(batch)} keys")
            except Exception as exc:  # every job of the batch sees it and is retried
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
            else:
                self.transactions += 1
                for (_, answer), result in zip(batch, answers, strict=True):
                    if not answer.done():
                        answer.set_result(result)
