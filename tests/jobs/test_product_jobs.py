"""Product item jobs through the real worker and Redis: queued by range as one framework batch, run, the product
batch settled by the batch-status queue's callbacks, progress counted, failed jobs retried."""

from __future__ import annotations

from sqlalchemy import func, select, update

from jobs.config import AppSettings
from jobs.db import Database
from jobs.db.products import BatchStatus, ProductBatch, ProductItem
from jobs.products.batches import batch_progress, create_batch
from jobs.products.jobs import (
    PRODUCT_JOBS,
    create_product_items_async,
    get_batch_job_progress,
    retry_failed_batch_jobs,
)
from jobs.products.runtime import products_hooks
from jobs.queues import BATCH_STATUS, PRODUCT_BATCH_ITEMS
from queue_system import Client, QueueAPI, QueueConfig, worker_settings

from ..support.queue_fixtures import run_burst


def product_worker(config: QueueConfig, app_settings: AppSettings) -> type:
    on_startup, on_shutdown = products_hooks(lambda: app_settings)
    return worker_settings(
        jobs=PRODUCT_JOBS,
        queues=[PRODUCT_BATCH_ITEMS, BATCH_STATUS],
        config=config,
        concurrency=2,
        poll_delay_s=0.01,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )


async def test_a_batch_is_split_into_jobs_that_fill_it(
    database: Database, client: Client, config: QueueConfig, app_settings: AppSettings
) -> None:
    batch_id = await create_batch(database, "Madu Hutan 2026-11")
    answer = await create_product_items_async(database, client, batch_id, 1000, batch_size=100, qr_code_prefix="MH-")
    assert answer["success"] and (answer["total_quantity"], answer["jobs_created"]) == (1000, 10)
    assert answer["job_ids"][0].endswith(":1-100") and answer["job_ids"][-1].endswith(":901-1000")
    async with await QueueAPI.connect(config) as api:
        assert (await get_batch_job_progress(api, batch_id))["waiting"] == 10
        await run_burst(product_worker(config, app_settings))
        progress = await get_batch_job_progress(api, batch_id)
    assert progress == {"total": 10, "waiting": 0, "active": 0, "completed": 10, "failed": 0}
    batch = await batch_progress(database, batch_id)
    assert (batch.status, batch.created, batch.planned) == (BatchStatus.COMPLETED, 1000, 1000)
    async with database.session() as session:
        codes = await session.scalar(
            select(func.count(func.distinct(ProductItem.qr_code))).where(ProductItem.batch_id == batch_id)
        )
    assert codes == 1000


async def test_a_job_that_fails_for_good_fails_the_batch_and_a_retry_completes_it(
    database: Database, client: Client, config: QueueConfig, app_settings: AppSettings
) -> None:
    batch_id = await create_batch(database, "B")
    await create_product_items_async(database, client, batch_id, 100, batch_size=50)
    await set_planned(database, batch_id, 50)  # the job for 51…100 now asks past what is reserved: permanent
    await run_burst(product_worker(config, app_settings))
    failed = await batch_progress(database, batch_id)
    assert failed.status == BatchStatus.FAILED and "ItemRangeOutsideBatch" in (failed.last_error or "")
    assert failed.last_error and ":51-100" in failed.last_error  # which job, from the failed store
    await set_planned(database, batch_id, 100)
    assert await retry_failed_batch_jobs(database, client, batch_id) == 1
    assert (await batch_progress(database, batch_id)).status == BatchStatus.PROCESSING
    await run_burst(product_worker(config, app_settings))  # the framework batch re-opened: settled again
    done = await batch_progress(database, batch_id)
    assert (done.status, done.created) == (BatchStatus.COMPLETED, 100)


async def set_planned(db: Database, batch_id: int, planned: int) -> None:
    async with db.session() as session, session.begin():
        await session.execute(update(ProductBatch).where(ProductBatch.id == batch_id).values(items_planned=planned))
