"""One row per id, read for many concurrent jobs of a worker with one ``SELECT … WHERE key IN (…)``.

A job starts by reading its row (a participant joined with its event, certificate and delivery). Read alone,
that is a transaction per job; batched (:mod:`.batching`), the jobs that start while a read runs share the next
one. The statement's ``WHERE`` has the expanding bound parameter ``keys``; the answer for an id that matched no
row is ``None``. The rows are as current as a single read would be: read after the call, in their own
transaction; whatever the job decides from them is re-checked by its own later writes (a claim, an insert that
ignores a duplicate), as it would have to be with a single read too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from .batching import Batcher
from .engine import Database


def keys_parameter() -> Any:
    """The ``IN`` list of a batched read: ``query.where(Model.id.in_(keys_parameter()))``."""
    return bindparam("keys", expanding=True)


class BatchedReads(Batcher[int, "Row[Any] | None"]):
    """``await reads.load(key)``: the row of ``query`` whose ``key_column`` (a selected label) equals ``key``."""

    def __init__(self, db: Database, query: Select[Any], key_column: str) -> None:
        super().__init__(db)
        self.query = query
        self.key_column = key_column

    async def load(self, key: int) -> Row[Any] | None:
        return await self.submit(key)

    async def run(self, connection: AsyncConnection, keys: Sequence[int]) -> Sequence[Row[Any] | None]:
        result = await connection.execute(self.query, {"keys": sorted(set(keys))})
        rows = {getattr(row, self.key_column): row for row in result}
        return [rows.get(key) for key in keys]
