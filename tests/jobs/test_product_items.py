"""Product batch items on SQLite and PostgreSQL: the split planner, idempotent chunks, unique codes, no gaps."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from jobs.db import Database
from jobs.db.products import BatchStatus, ProductItem
from jobs.products.batches import (
    batch_progress,
    create_batch,
    fail_batch,
    refresh_batch_status,
    reopen_batch,
    reserve_items,
)
from jobs.products.errors import BatchNotFound, InvalidItemRequest, ItemRangeOutsideBatch, QrPrefixConflict
from jobs.products.items import create_product_items, qr_code
from jobs.products.planner import plan_product_items


class InjectedFailure(Exception):
    """Stands for the database or worker failing in the middle of a chunk."""


def test_the_planner_splits_into_contiguous_fixed_ranges() -> None:
    plan = plan_product_items(10_000)
    assert (len(plan.jobs), plan.items_per_job) == (100, 100)
    assert plan.jobs[0].first_sequence == 1 and plan.jobs[-1].last_sequence == 10_000
    assert all(a.last_sequence + 1 == b.first_sequence for a, b in zip(plan.jobs, plan.jobs[1:], strict=False))
    uneven = plan_product_items(250, first_sequence=101)
    assert [(j.first_sequence, j.count) for j in uneven.jobs] == [(101, 100), (201, 100), (301, 50)]


def test_the_planner_caps_the_number_of_jobs_and_estimates_from_the_seeds_pace() -> None:
    big = plan_product_items(1_000_000, batch_size=100, max_jobs_per_batch=1000)
    assert (len(big.jobs), big.items_per_job) == (1000, 1000)
    assert plan_product_items(5000).estimated_duration == "2 minutes"  # 50 jobs at 5 per 10 s
    assert plan_product_items(10).estimated_duration == "1 seconds"
    for bad in ({"quantity": 0}, {"quantity": 10, "batch_size": 0}, {"quantity": 10, "max_jobs_per_batch": 0}):
        with pytest.raises(InvalidItemRequest):
            plan_product_items(**bad)


async def test_ten_thousand_items_survive_failures_mid_chunk_and_reruns(database: Database) -> None:
    batch_id = await create_batch(database, "Kopi Gayo 2026-11", qr_code_prefix="KG-")
    _, plan = await reserve_items(database, batch_id, 10_000)
    failing = {3: 1, 40: 0, 77: 1, 99: 0}  # job index → the chunk (0 or 1) that fails on the job's first try
    tries: dict[int, int] = {}

    def hook_for(index: int):  # type: ignore[no-untyped-def]
        async def on_chunk(session: AsyncSession, done: int, total: int) -> None:
            if tries[index] == 1 and index in failing and done == (failing[index] + 1) * 50:
                await session.flush()  # the chunk's rows are written …
                raise InjectedFailure(f"job {index} dies in chunk {failing[index]}")  # … and rolled back

        return on_chunk

    async def run(job_index: int) -> None:
        job = plan.jobs[job_index]
        while True:  # what the queue's retries do
            tries[job_index] = tries.get(job_index, 0) + 1
            try:
                await create_product_items(
                    database, batch_id, job.first_sequence, job.count, on_chunk=hook_for(job_index)
                )
                return
            except InjectedFailure:
                continue

    for start in range(0, len(plan.jobs), 4):  # two workers' worth of jobs at once
        await asyncio.gather(*(run(i) for i in range(start, min(start + 4, len(plan.jobs)))))
    again = await create_product_items(database, batch_id, plan.jobs[40].first_sequence, 100)  # a replayed job
    assert (again.inserted, again.already_present) == (0, 100)
    assert {i: n for i, n in tries.items() if n > 1} == {i: 2 for i in failing}

    async with database.session() as session:
        rows = (
            await session.execute(
                select(ProductItem.sequence, ProductItem.qr_code)
                .where(ProductItem.batch_id == batch_id)
                .order_by(ProductItem.sequence)
            )
        ).all()
    assert [s for s, _ in rows] == list(range(1, 10_001))  # no gaps, no duplicates
    assert len({code for _, code in rows}) == 10_000
    assert rows[0][1] == "KG-00000001" and rows[-1][1] == qr_code("KG-", 10_000)
    progress = await batch_progress(database, batch_id)
    assert (progress.created, progress.planned, progress.percent) == (10_000, 10_000, 100.0)
    assert await refresh_batch_status(database, batch_id) == BatchStatus.COMPLETED


async def test_the_same_range_run_twice_at_once_inserts_each_item_once(database: Database) -> None:
    batch_id = await create_batch(database, "B")
    await reserve_items(database, batch_id, 300)
    results = await asyncio.gather(*(create_product_items(database, batch_id, 1, 300) for _ in range(2)))
    assert sum(r.inserted for r in results) == 300
    async with database.session() as session:
        count = await session.scalar(select(func.count()).where(ProductItem.batch_id == batch_id))
    assert count == 300 and (await batch_progress(database, batch_id)).created == 300


async def test_ranges_are_reserved_one_after_another_under_one_prefix(database: Database) -> None:
    batch_id = await create_batch(database, "B")
    uid, first = await reserve_items(database, batch_id, 150, qr_code_prefix="QR")
    _, second = await reserve_items(database, batch_id, 20)
    assert len(uid) == 32 and second.jobs[0].first_sequence == 151
    with pytest.raises(QrPrefixConflict):
        await reserve_items(database, batch_id, 5, qr_code_prefix="OTHER")
    with pytest.raises(ItemRangeOutsideBatch):
        await create_product_items(database, batch_id, 160, 20)  # 160…179 goes past the 170 reserved
    done = await create_product_items(database, batch_id, 1, 150)
    assert done.inserted == 150 and first.jobs[0].count == 100
    assert await refresh_batch_status(database, batch_id) == BatchStatus.PROCESSING  # 20 still to come
    default = await create_batch(database, "C")
    await reserve_items(database, default, 1)
    await create_product_items(database, default, 1, 1)
    async with database.session() as session:
        code = await session.scalar(select(ProductItem.qr_code).where(ProductItem.batch_id == default))
    assert code == f"B{default:06d}-00000001"


async def test_a_failed_batch_is_reopened_when_its_jobs_are_retried(database: Database) -> None:
    batch_id = await create_batch(database, "B")
    await reserve_items(database, batch_id, 100)
    await fail_batch(database, batch_id, "job product-items:…:1-100 failed after 3 tries: disk full")
    progress = await batch_progress(database, batch_id)
    assert progress.status == BatchStatus.FAILED and "disk full" in (progress.last_error or "")
    await reopen_batch(database, batch_id)
    await create_product_items(database, batch_id, 1, 100)
    assert await refresh_batch_status(database, batch_id) == BatchStatus.COMPLETED


async def test_a_partly_made_range_counts_only_what_it_added_and_unknown_batches_are_refused(
    database: Database,
) -> None:
    batch_id = await create_batch(database, "B", qr_code_prefix="P-")
    await reserve_items(database, batch_id, 100)
    assert (await create_product_items(database, batch_id, 31, 40)).inserted == 40  # 31…70 exist
    again = await create_product_items(database, batch_id, 1, 100)  # chunks 1…50 and 51…100, each partly there
    assert (again.inserted, again.already_present) == (60, 40)
    assert await refresh_batch_status(database, batch_id) == BatchStatus.COMPLETED
    with pytest.raises(BatchNotFound):
        await create_product_items(database, 999_999, 1, 10)
    with pytest.raises(BatchNotFound):
        await refresh_batch_status(database, 999_999)
