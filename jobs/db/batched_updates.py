"""One kind of row update, sent by many concurrent jobs of a worker, written together (a group commit).

A job's last write (a certificate marked generated, an email marked accepted) is one small UPDATE. Jobs that
finish while a batch is being written wait for the next one, so under load each transaction carries many rows in
one ``executemany`` (see :mod:`.batching`). Each caller returns only after its row is committed, so a job is
never reported done before its update is durable; if the batch's transaction fails, every job in it sees the
error and is retried by its policy (the updates set absolute values, so writing one twice is harmless).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Update
from sqlalchemy.engine import Connection

from .batching import Batcher
from .engine import Database


class BatchedUpdates(Batcher[dict[str, Any], None]):
    """``await updates.write(params)`` runs ``statement`` with ``params``, batched with concurrent writes."""

    def __init__(self, db: Database, statement: Update) -> None:
        super().__init__(db)
        self.statement = statement

    async def write(self, params: dict[str, Any]) -> None:
        await self.submit(params)

    def run(self, connection: Connection, keys: Sequence[dict[str, Any]]) -> Sequence[None]:
        connection.execute(self.statement, list(keys))
        return [None] * len(keys)
