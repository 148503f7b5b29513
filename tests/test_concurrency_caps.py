"""Concurrency caps across worker processes on the real Redis: never more running than the cap, and a killed
worker's slot comes back within one lease."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from arq.worker import Worker, get_kwargs

from queue_system import Client, QueueConfig, worker_settings
from tests.app.limited import LIMITED
from tests.support.processes import Spawn
from tests.support.queue_fixtures import recorded_runs, wait_for_runs

SETTINGS = "tests.app.limited.WorkerSettings"


def most_running_at_once(runs: list[dict[str, Any]]) -> int:
    """From recorded starts ("capped") and ends ("capped-done") per job: the most jobs running at one instant.

    A job's end is recorded before its slot is released and the next job's start after it is admitted, so the
    recorded intervals of jobs that shared a slot never overlap."""
    events: list[tuple[float, int]] = []
    for r in runs:
        events.append((r["t"], 1 if r["name"] == "capped" else -1))
    running = most = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):  # an end before a start at the same instant
        running += delta
        most = max(most, running)
    return most


async def sample_cap(client: Client, key: str, stop: asyncio.Event) -> int:
    most = 0
    while not stop.is_set():
        most = max(most, int(await client.redis.zcard(key)))
        await asyncio.sleep(0.005)
    return most


@pytest.mark.slow
async def test_a_cap_of_two_over_three_worker_processes(client: Client, spawn: Spawn) -> None:
    for _ in range(10):
        await client.enqueue_job("capped", 0.25, _queue="capped")
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_cap(client, client.keys.cap("f:capped"), stop))
    for name in ("a", "b", "c"):
        spawn(name, settings=SETTINGS)
    await wait_for_runs(client, "capped-done", 10, timeout=30)
    stop.set()
    runs = [r for r in await recorded_runs(client) if r["name"] in ("capped", "capped-done")]
    assert most_running_at_once(runs) == 2
    assert await sampler == 2
    assert {r["try"] for r in runs} == {1}
    assert await client.redis.zcard(client.keys.cap("f:capped")) == 0  # every slot given back


@pytest.mark.slow
async def test_a_killed_workers_slot_comes_back_within_one_lease(client: Client, spawn: Spawn) -> None:
    hung = [await client.enqueue_job("capped", 0.05, True, _queue="capped") for _ in range(2)]
    first = spawn("first", settings=SETTINGS, QS_LEASE_S="1")
    await wait_for_runs(client, "capped", 2)
    later = await client.enqueue_job("capped", 0.05, _queue="capped")
    await asyncio.sleep(1.6)  # longer than a lease: the running jobs' renewals keep their slots
    assert await client.redis.zcard(client.keys.cap("f:capped")) == 2
    assert len(await recorded_runs(client, "capped")) == 2  # the later job waits for a slot
    first.kill()  # SIGKILL: nothing gives the slots back but their lease running out
    killed_at = time.time()
    spawn("second", settings=SETTINGS, QS_LEASE_S="1")
    await wait_for_runs(client, "capped-done", 3, timeout=20)
    runs = await recorded_runs(client, "capped")
    restarted = [r for r in runs if r["t"] > killed_at]
    assert sorted(r["try"] for r in restarted) == [1, 2, 2]  # the hung jobs' second tries and the later job
    assert min(r["t"] for r in restarted) - killed_at < 1.0 + 3.0  # one lease plus a worker start-up
    for job in [*hung, later]:
        assert await job.result(timeout=5) == "ok"
    assert await client.redis.zcard(client.keys.cap("f:capped")) == 0


async def test_a_cap_under_the_stock_arq_worker(client: Client, config: QueueConfig) -> None:
    settings = worker_settings(jobs=LIMITED, queues=["capped"], concurrency=4, poll_delay_s=0.01, config=config)
    for _ in range(6):
        await client.enqueue_job("capped", 0.2, _queue="capped")

    async def stock() -> None:
        worker = Worker(**{**get_kwargs(settings), "burst": True, "handle_signals": False})
        try:
            await worker.async_run()
        finally:
            await worker.close()

    await asyncio.gather(stock(), stock())
    runs = [r for r in await recorded_runs(client) if r["name"] in ("capped", "capped-done")]
    assert len(runs) == 12 and {r["try"] for r in runs} == {1}
    assert most_running_at_once(runs) == 2
    assert await client.redis.zcard(client.keys.cap("f:capped")) == 0
