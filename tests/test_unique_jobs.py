"""Unique jobs: unique while waiting or running, unique for a TTL (throttle), and debounce, incl. concurrent
enqueues from many producers at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from queue_system import Client, QueueConfig, Unique, use_client, worker_settings
from tests.app.limited import LIMITED, alert, reindex, sync_product
from tests.support.queue_fixtures import recorded_runs, run_burst


@pytest.fixture(autouse=True)
def _typed_handles_use_the_test_client(client: Client) -> Iterator[None]:
    with use_client(client):
        yield


def settings(config: QueueConfig) -> type:
    return worker_settings(jobs=LIMITED, queues=["limited"], concurrency=4, poll_delay_s=0.01, config=config)


async def test_unique_while_waiting_or_running(client: Client, config: QueueConfig) -> None:
    jobs = await asyncio.gather(*(sync_product.enqueue(7, f"n{i}") for i in range(20)))
    first = [j for j in jobs if not j.duplicate]
    assert len(first) == 1 and {j.job_id for j in jobs} == {first[0].job_id}
    other = await sync_product.enqueue(8, "other")  # another key: another job
    assert not other.duplicate and other.job_id != first[0].job_id
    by_name = await client.enqueue_job("sync_product", 7, _queue="limited", _unique=Unique.while_active(key=str))
    assert by_name.duplicate and by_name.job_id == first[0].job_id  # by name, with the same key: the same job
    await run_burst(settings(config))
    assert sorted(r["args"][0] for r in await recorded_runs(client, "sync_product")) == [7, 8]
    again = await sync_product.enqueue(7, "after")  # the first job has ended: the key is free again
    assert not again.duplicate and again.job_id != first[0].job_id


async def test_unique_while_running(client: Client, config: QueueConfig) -> None:
    first = await sync_product.enqueue(9)
    await client.redis.hset(client.keys.meta(first.job_id), "s", "active")  # as a claim leaves it
    assert (await sync_product.enqueue(9)).job_id == first.job_id
    await client.redis.hset(client.keys.meta(first.job_id), "s", "completed")
    assert (await sync_product.enqueue(9)).job_id != first.job_id


async def test_throttle_keeps_one_job_per_ttl(client: Client, config: QueueConfig) -> None:
    jobs = await asyncio.gather(*(alert.enqueue("emails") for _ in range(20)))
    assert len({j.job_id for j in jobs}) == 1 and sum(not j.duplicate for j in jobs) == 1
    await run_burst(settings(config))
    assert (await alert.enqueue("emails")).job_id == jobs[0].job_id  # ran already, but the TTL (1 s) holds
    await asyncio.sleep(1.05)
    assert (await alert.enqueue("emails")).job_id != jobs[0].job_id


async def test_debounce_runs_once_with_the_last_arguments_after_the_burst(client: Client, config: QueueConfig) -> None:
    first = await reindex.enqueue(7, 0)
    burst = await asyncio.gather(*(reindex.enqueue(7, v) for v in range(1, 11)))
    await asyncio.sleep(0.2)
    last = await reindex.enqueue(7, 99)
    last_at = time.time()
    assert {j.job_id for j in [first, *burst, last]} == {first.job_id}
    assert all(j.replaced for j in [*burst, last]) and not first.replaced
    other = await reindex.enqueue(8, 1)
    assert other.job_id != first.job_id
    assert (await client.redis.hget(client.keys.counts("limited"), "delayed")) == b"2"  # counts stay exact
    await run_burst(settings(config))
    runs = await recorded_runs(client, "reindex")
    assert sorted((r["args"][0], r["args"][1]) for r in runs) == [(7, 99), (8, 1)]
    run_7 = next(r for r in runs if r["args"][0] == 7)
    assert run_7["t"] - last_at >= 0.4 - 0.05  # the delay restarted with the last enqueue
    assert await first.result(timeout=2) == 99
