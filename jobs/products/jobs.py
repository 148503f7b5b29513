"""The product-item jobs (seed 003) and what the API calls to queue, watch and retry them.

``create_product_items`` creates one job's fixed range of items (idempotent chunks). A call of
``create_product_items_async`` queues its jobs as one framework ``Batch`` whose callbacks, on the batch-status
queue, settle the product batch (status_jobs.py): FAILED as soon as a job used its last try, COMPLETED once every
reserved item exists. The seed's policy: 3 tries with exponential backoff here; the queue's pace (5 jobs per
10 s, 2 at a time) and retention (keep 10 completed, 5 failed) in queue_settings.py, wired by ``settings.py``.

Job ids are ``product-items:{batch uid}:{first}-{last}``: the same range can never be queued twice at once.
Earlier ranges are enqueued first, so with one priority they are claimed, and admitted by the rate limit, first.
"""

from __future__ import annotations

from typing import Any

from queue_system import Batch, Client, Exponential, FailedFilter, JobContext, JobFunction, QueueAPI, job

from ..db import Database
from ..queues import PRODUCT_BATCH_ITEMS
from .batches import reopen_batch, reserve_items
from .items import create_product_items as create_items
from .runtime import runtime_from
from .status_jobs import STATUS_JOBS, fail_product_batch, settle_product_batch

MAX_TRIES = 3


@job(
    queue=PRODUCT_BATCH_ITEMS,
    max_tries=MAX_TRIES,
    backoff=Exponential(2),
    timeout=300,
)
async def create_product_items(ctx: JobContext, batch_id: int, first_sequence: int, count: int) -> dict[str, Any]:
    """Create items ``first_sequence … first_sequence + count - 1`` of the batch (idempotent chunks)."""
    runtime = await runtime_from(ctx)
    return (await create_items(runtime.db, batch_id, first_sequence, count)).as_dict()


PRODUCT_JOBS: list[JobFunction[Any, Any]] = [create_product_items, *STATUS_JOBS]


def items_job_id(batch_uid: str, first: int, last: int) -> str:
    return f"product-items:{batch_uid}:{first}-{last}"


async def create_product_items_async(
    db: Database,
    client: Client,
    batch_id: int,
    quantity: int,
    batch_size: int = 100,
    qr_code_prefix: str | None = None,
    max_jobs_per_batch: int = 1000,
) -> dict[str, Any]:
    """Reserve ``quantity`` items on the batch, queue one job per range as one framework batch (settled by the
    batch-status queue), and answer at once (the seed's shape)."""
    uid, plan = await reserve_items(
        db, batch_id, quantity, batch_size, max_jobs_per_batch, qr_code_prefix=qr_code_prefix
    )
    job_ids = [items_job_id(uid, j.first_sequence, j.last_sequence) for j in plan.jobs]
    calls = [
        create_product_items.options(job_id=job_id).call(batch_id, j.first_sequence, j.count)
        for job_id, j in zip(job_ids, plan.jobs, strict=True)
    ]
    await Batch.create(
        f"product batch {batch_id}: {quantity} items",
        calls,
        catch=fail_product_batch.call(batch_id),
        finally_=settle_product_batch.call(batch_id),
        tags={"batch_id": str(batch_id)},
        client=client,
    )
    return {
        "success": True,
        "batch_id": batch_id,
        "total_quantity": quantity,
        "jobs_created": len(job_ids),
        "job_ids": job_ids,
        "estimated_duration": plan.estimated_duration,
    }


async def get_batch_job_progress(api: QueueAPI, batch_id: int) -> dict[str, int]:
    """The batch's jobs by state (total / waiting / active / completed / failed), from the queue's exact counts."""
    counts = await api.counts(PRODUCT_BATCH_ITEMS, tag={"batch_id": str(batch_id)})
    waiting = counts.waiting + counts.delayed + counts.retrying
    total = waiting + counts.active + counts.completed + counts.failed
    return {
        "total": total,
        "waiting": waiting,
        "active": counts.active,
        "completed": counts.completed,
        "failed": counts.failed,
    }


async def retry_failed_batch_jobs(db: Database, client: Client, batch_id: int) -> int:
    """Re-create the batch's failed item jobs with fresh tries; the batch goes back to PROCESSING.

    Only when the failed store holds some (the same filter as the retry): re-opening a FAILED batch with nothing
    to re-run would leave it PROCESSING for good, its reason erased.
    """
    failed = FailedFilter(function=create_product_items.name, tags={"batch_id": str(batch_id)})
    if not (await client.failed.list(failed, limit=1)).total:
        return 0
    await reopen_batch(db, batch_id)
    return await client.retry_failed_where(failed)
