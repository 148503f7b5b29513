"""Creating one job's product items: chunks of 50, bulk inserts, QR codes unique per batch, idempotent.

The job's range of sequence numbers is fixed (``planner``), and an item's QR code is a function of its sequence
(``qr_code``), so a chunk always means the same 50 rows. Each chunk is one transaction of one multi-row
``INSERT … ON CONFLICT DO NOTHING``: rows a previous try already inserted are skipped by the database itself
(the unique constraints on (batch, sequence) and (batch, QR code)). Progress is counted from the items, so it
is exact whatever happened to earlier tries.
A try that fails mid-way (worker killed, database error, a chunk rolled back) is simply run again: no duplicates
(the unique constraints), no gaps (every sequence of the range is inserted by the try that finishes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..db.products import ItemStatus, ProductBatch, ProductItem
from ..db.types import utcnow
from .errors import BatchNotFound, ItemRangeOutsideBatch

CHUNK_SIZE = 50
_ITEMS: Table = ProductItem.__table__  # type: ignore[assignment]
SEQUENCE_DIGITS = 8
_AVAILABLE = ItemStatus.AVAILABLE.value
_BATCHES: Table = ProductBatch.__table__  # type: ignore[assignment]
_SQLITE_INSERT = sqlite.insert(_ITEMS).on_conflict_do_nothing()
_POSTGRES_INSERT = postgresql.insert(_ITEMS).on_conflict_do_nothing().returning(_ITEMS.c.sequence)
_BATCH_RANGE = select(_BATCHES.c.qr_code_prefix, _BATCHES.c.items_planned).where(_BATCHES.c.id == bindparam("batch_id"))

# Runs inside each chunk's transaction after its insert: (session, items of the range done so far, range size).
# What it writes (progress) commits with the chunk; what it raises rolls the chunk back.
ChunkHook = Callable[[AsyncSession, int, int], Awaitable[None]]


@dataclass(frozen=True)
class ItemsResult:
    batch_id: int
    first_sequence: int
    count: int
    inserted: int  # by this try
    already_present: int  # inserted by an earlier try of the same range

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def qr_code(prefix: str, sequence: int) -> str:
    return f"{prefix}{sequence:0{SEQUENCE_DIGITS}d}"


def default_prefix(batch_id: int) -> str:
    """Unique beyond the batch too: the batch id is part of it."""
    return f"B{batch_id:06d}-"


async def create_product_items(
    db: Database,
    batch_id: int,
    first_sequence: int,
    count: int,
    *,
    chunk_size: int = CHUNK_SIZE,
    on_chunk: ChunkHook | None = None,
) -> ItemsResult:
    """Insert the items ``first_sequence … first_sequence + count - 1`` of the batch that do not exist yet.

    The batch's ``items_created`` is not touched here (``batches.refresh_batch_status``, which the batch-status
    queue runs when the batch's jobs ended, recounts it): a per-chunk counter update costs a statement and a
    lock on the one batch row that every concurrent job of the batch would queue on (it halved the throughput).
    """
    inserted, prefix = 0, ""
    for start in range(first_sequence, first_sequence + count, chunk_size):
        stop = min(start + chunk_size, first_sequence + count)
        async with db.session() as session, session.begin():
            if not prefix:  # checked in the first chunk's transaction: one round trip less per job
                prefix = await _checked_prefix(session, batch_id, first_sequence, count)
            inserted += await _insert_missing(session, db.is_sqlite, batch_id, prefix, range(start, stop))
            if on_chunk is not None:
                await on_chunk(session, stop - first_sequence, count)
    return ItemsResult(batch_id, first_sequence, count, inserted, count - inserted)


async def _checked_prefix(session: AsyncSession, batch_id: int, first_sequence: int, count: int) -> str:
    # A Core select of the two columns: loading the ORM object (identity map, events) cost more than the query.
    connection = await session.connection()
    row = (await connection.execute(_BATCH_RANGE, {"batch_id": batch_id})).first()
    if row is None:
        raise BatchNotFound(f"no product batch {batch_id}")
    prefix, planned = row
    if first_sequence < 1 or count < 1 or first_sequence + count - 1 > planned:
        raise ItemRangeOutsideBatch(
            f"items {first_sequence}…{first_sequence + count - 1} are outside batch {batch_id}'s reserved 1…{planned}"
        )
    return str(prefix)


async def _insert_missing(session: AsyncSession, is_sqlite: bool, batch_id: int, prefix: str, sequences: range) -> int:
    """Insert the chunk's rows, skipping those that exist (``ON CONFLICT DO NOTHING``); returns how many it added.

    Both statements are built once (module level), so SQLAlchemy reuses their compiled form. PostgreSQL: one
    multi-row ``INSERT … RETURNING`` ("insertmanyvalues"), counting the rows that come back. SQLite: the
    driver's ``executemany`` (the 50 single-row inserts run inside the SQLite library, in one call) and its row
    count, ``changes()``, which counts only the rows inserted. Not ``RETURNING`` there: with aiosqlite every
    driver call is a hand-off to its database thread and back, fetching the rows is one more per chunk, and on
    a loaded machine those hand-offs, not SQLite's work, were most of the time (bench/product_items.py).
    """
    now = utcnow()
    rows = [
        {"batch_id": batch_id, "sequence": s, "qr_code": qr_code(prefix, s), "status": _AVAILABLE, "created_at": now}
        for s in sequences
    ]
    connection = await session.connection()
    if is_sqlite:
        return int((await connection.execute(_SQLITE_INSERT, rows)).rowcount)
    return len((await connection.execute(_POSTGRES_INSERT, rows)).all())
