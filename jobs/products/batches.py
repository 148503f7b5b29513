"""Product batches: creation, reserving item ranges for jobs, and the batch's status and progress.

The batch row is the truth about what was asked (``items_planned``); the items themselves are the truth about
what exists (``batch_progress`` counts them; ``items_created`` keeps the count once the batch completed). The
status follows: COMPLETED once every reserved item exists, FAILED when a job used its last try (``fail_batch``),
back to PROCESSING when failed jobs are retried (``reopen_batch``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..db.products import BatchStatus, ProductBatch, ProductItem
from ..db.types import utcnow
from .errors import BatchNotFound, InvalidItemRequest, QrPrefixConflict
from .items import default_prefix
from .planner import SEED_PACE, ItemPlan, QueuePace, plan_product_items

MAX_PREFIX = 32


@dataclass(frozen=True)
class BatchProgress:
    batch_id: int
    status: str
    planned: int
    created: int
    jobs_total: int
    last_error: str | None

    @property
    def percent(self) -> float:
        return round(100 * self.created / self.planned, 1) if self.planned else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "percent": self.percent}


async def create_batch(
    db: Database, name: str, *, product_name: str | None = None, qr_code_prefix: str | None = None
) -> int:
    async with db.session() as session, session.begin():
        batch = ProductBatch(name=name, product_name=product_name, qr_code_prefix=_valid_prefix(qr_code_prefix or "-"))
        session.add(batch)
        await session.flush()
        if not qr_code_prefix:
            batch.qr_code_prefix = default_prefix(batch.id)
        return batch.id


async def reserve_items(
    db: Database,
    batch_id: int,
    quantity: int,
    batch_size: int = 100,
    max_jobs_per_batch: int = 1000,
    *,
    qr_code_prefix: str | None = None,
    pace: QueuePace = SEED_PACE,
) -> tuple[str, ItemPlan]:
    """Reserve the next ``quantity`` sequence numbers of the batch and split them into jobs.

    Returns the batch's uid (for job ids) and the plan. Calling it again appends another range.
    """
    async with db.session() as session, session.begin():
        batch = await session.get(ProductBatch, batch_id, with_for_update=True)
        if batch is None:
            raise BatchNotFound(f"no product batch {batch_id}")
        plan = plan_product_items(
            quantity, batch_size, max_jobs_per_batch, first_sequence=batch.items_planned + 1, pace=pace
        )
        if qr_code_prefix and qr_code_prefix != batch.qr_code_prefix:
            if batch.items_planned:
                raise QrPrefixConflict(
                    f"batch {batch_id} already has items under prefix {batch.qr_code_prefix!r}, not {qr_code_prefix!r}"
                )
            batch.qr_code_prefix = _valid_prefix(qr_code_prefix)
        batch.items_planned += quantity
        batch.jobs_total += len(plan.jobs)
        batch.status = BatchStatus.PROCESSING
        batch.completed_at = None
        return batch.uid, plan


async def batch_progress(db: Database, batch_id: int) -> BatchProgress:
    """Where the batch stands, counted from its items (exact even while jobs are running)."""
    async with db.session() as session:
        batch = await session.get(ProductBatch, batch_id)
        if batch is None:
            raise BatchNotFound(f"no product batch {batch_id}")
        created = await _item_count(session, batch_id)
    return BatchProgress(batch.id, batch.status, batch.items_planned, created, batch.jobs_total, batch.last_error)


async def refresh_batch_status(db: Database, batch_id: int) -> str:
    """COMPLETED once every reserved item exists (what the batch-status queue runs when a batch's jobs ended).

    One query reads the status, the plan and the item count; a write happens only when the batch is complete, so
    that concurrent jobs of one batch do not queue on its row; the write is conditional, so two jobs finishing
    together complete it once.
    """
    async with db.session() as session, session.begin():
        items = select(func.count()).select_from(ProductItem).where(ProductItem.batch_id == batch_id)
        row = (
            await session.execute(
                select(ProductBatch.status, ProductBatch.items_planned, items.scalar_subquery()).where(
                    ProductBatch.id == batch_id
                )
            )
        ).first()
        if row is None:
            raise BatchNotFound(f"no product batch {batch_id}")
        status, planned, created = row
        if status != BatchStatus.PROCESSING or created != planned:
            return str(status)
        await session.execute(
            update(ProductBatch)
            .where(ProductBatch.id == batch_id, ProductBatch.status == BatchStatus.PROCESSING)
            .values(status=BatchStatus.COMPLETED, items_created=created, completed_at=utcnow(), updated_at=utcnow())
        )
        return BatchStatus.COMPLETED


async def _item_count(session: AsyncSession, batch_id: int) -> int:
    count = await session.scalar(select(func.count()).select_from(ProductItem).where(ProductItem.batch_id == batch_id))
    return int(count or 0)


async def fail_batch(db: Database, batch_id: int, reason: str) -> None:
    async with db.session() as session, session.begin():
        await session.execute(
            update(ProductBatch)
            .where(ProductBatch.id == batch_id, ProductBatch.status != BatchStatus.COMPLETED)
            .values(status=BatchStatus.FAILED, last_error=reason[:1000], updated_at=utcnow())
        )


async def reopen_batch(db: Database, batch_id: int) -> None:
    """A FAILED batch whose failed jobs were re-created goes back to PROCESSING."""
    async with db.session() as session, session.begin():
        await session.execute(
            update(ProductBatch)
            .where(ProductBatch.id == batch_id, ProductBatch.status == BatchStatus.FAILED)
            .values(status=BatchStatus.PROCESSING, last_error=None, updated_at=utcnow())
        )


def _valid_prefix(prefix: str) -> str:
    if not prefix or len(prefix) > MAX_PREFIX or not prefix.isprintable():
        raise InvalidItemRequest(f"a QR code prefix is 1 to {MAX_PREFIX} printable characters, not {prefix!r}")
    return prefix
