"""The batch-status queue (seed 003): the product batch's status, set by the framework batch's callbacks.

``create_product_items_async`` queues a batch's item jobs as one framework ``Batch``, whose callbacks the
framework enqueues exactly once, in the same atomic step that records the outcome deciding them:

* ``catch`` -> ``fail_product_batch``: a job failed after its last try; the batch is FAILED at once, with the
  failed job's reason from the failed store;
* ``finally_`` -> ``settle_product_batch``: every job of this run ended; FAILED if a job of this batch failed,
  else COMPLETED if every reserved item exists, else left PROCESSING (items appended by a later call are still being
  made; that call's batch settles it). It fires once per run, so a retry of the failed jobs (which re-opens the
  framework batch) settles the product batch again, where ``catch`` (once per batch) would not.

Settling counts the items, not the jobs: the database is the truth about what exists.
"""

from __future__ import annotations

from typing import Any

from queue_system import Exponential, JobContext, JobFunction, QueueAPI, current_client, job

from ..db.products import BatchStatus
from ..queues import BATCH_STATUS
from .batches import fail_batch, refresh_batch_status
from .runtime import runtime_from


@job(queue=BATCH_STATUS, max_tries=5, backoff=Exponential(2), timeout=60)
async def fail_product_batch(ctx: JobContext, product_batch_id: int, batch_id: str = "") -> str:
    """The framework batch's ``catch``: a job used its last try, so the product batch is FAILED."""
    runtime = await runtime_from(ctx)
    reason = await _failure_reason(batch_id)
    await fail_batch(runtime.db, product_batch_id, reason)
    return reason


@job(queue=BATCH_STATUS, max_tries=5, backoff=Exponential(2), timeout=60)
async def settle_product_batch(ctx: JobContext, product_batch_id: int, batch_id: str = "") -> str:
    """The framework batch's ``finally_``: FAILED when one of its jobs failed for good, else COMPLETED when every
    reserved item exists, else unchanged (another call's jobs are still making items)."""
    runtime = await runtime_from(ctx)
    if await QueueAPI(await current_client()).batch_jobs(batch_id, "failed"):
        await fail_batch(runtime.db, product_batch_id, await _failure_reason(batch_id))
        return BatchStatus.FAILED
    return await refresh_batch_status(runtime.db, product_batch_id)


async def _failure_reason(batch_id: str) -> str:
    api = QueueAPI(await current_client())
    failed = sorted(await api.batch_jobs(batch_id, "failed"))
    if not failed:
        return "a job of the batch failed after its last try"
    try:
        entry = await api.failed_entry(failed[0])
    except Exception:  # the failed store may have pruned it: the job id still says which range
        return f"job {failed[0]} failed after its last try ({len(failed)} failed)"
    return f"job {failed[0]} failed after its last try ({len(failed)} failed): {entry.exc_type}: {entry.message}"


STATUS_JOBS: list[JobFunction[Any, Any]] = [fail_product_batch, settle_product_batch]
