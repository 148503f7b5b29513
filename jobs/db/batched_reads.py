"""One row per id, read for many concurrent jobs of a worker with one ``SELECT … WHERE key IN (…)``.

A job starts by reading its row (a participant joined with its event, certificate and delivery). Read alone,
that is a transaction per job; batched (:mod:`.batching`), the jobs that start while a read runs share the next
one. ``many`` is the statement for a batch (its ``WHERE`` has the expanding bound parameter ``keys``), ``one`` the
same statement for a single key (bound parameter ``key``), used for a batch of one: an expanding ``IN`` is
rendered anew on every execution, which cost a lone job more than the batch saved it. The answer for an id that
matched no row is ``None``. The rows are as current as a single read would be: read after the call, in their own
transaction; whatever the job decides from them is re-checked by its own later writes (a claim, an insert that
ignores a duplicate), as it would have to be with a single read too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam
from sqlalchemy.engine import Connection

from .batching import Batcher
from .engine import Database


def keys_parameter() -> Any:
    """The ``IN`` list of a batch's statement: ``query.where(Model.id.in_(keys_parameter()))``."""
    return bindparam("keys", expanding=True)


def key_parameter() -> Any:
    """The key of a single-key statement: ``query.where(Model.id == key_parameter())``."""
    return bindparam("key")


class BatchedReads(Batcher[int, "Row[Any] | None"]):
    """``await reads.load(key)``: the row whose ``key_column`` (a selected label) equals ``key``."""

    def __init__(self, db: Database, *, one: Select[Any], many: Select[Any], key_column: str) -> None:
        super().__init__(db)
        self.one = one
        self.many = many
        self.key_column = key_column

    async def load(self, key: int) -> Row[Any] | None:
        return await self.submit(key)

    def run(self, connection: Connection, keys: Sequence[int]) -> Sequence[Row[Any] | None]:
        unique = sorted(set(keys))
        if len(unique) == 1:
            result = connection.execute(self.one, {"key": unique[0]})
        else:
            result = connection.execute(self.many, {"keys": unique})
        rows = {getattr(row, self.key_column): row for row in result}
        return [rows.get(key) for key in keys]
