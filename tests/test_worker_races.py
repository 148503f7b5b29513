"""Races between workers and bursts through small pools."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from queue_system import Client, QueueConfig
from tests.support.processes import WorkerProcess
from tests.support.queue_fixtures import recorded_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def eight_workers(redis_url: str, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    workers = [WorkerProcess(redis_url, tmp_path, f"w{i}") for i in range(8)]
    for worker in workers:
        worker.wait_for_event("worker.started", timeout=60)
    yield workers
    for worker in workers:
        worker.stop()


async def test_eight_workers_racing_run_each_job_once(client: Client, eight_workers: list[WorkerProcess]) -> None:
    one = await client.enqueue_job("echo", "single", _queue="alpha")
    assert await one.result(timeout=10) == "single"
    jobs = [await client.enqueue_job("echo", i, _queue="alpha") for i in range(200)]
    for job in jobs:
        await job.result(timeout=20)
    runs = await recorded_runs(client, "echo")
    assert len(runs) == 201
    assert len({r["job_id"] for r in runs}) == 201


async def test_a_retry_is_never_started_before_its_time(client: Client, eight_workers: list[WorkerProcess]) -> None:
    job = await client.enqueue_job("flaky", 3, _queue="alpha")  # Exponential(0.3): 0.3 s, then 0.6 s
    assert await job.result(timeout=15) == "ok on try 3"
    runs = await recorded_runs(client, "flaky")
    assert [r["try"] for r in runs] == [1, 2, 3]
    assert runs[1]["t"] - runs[0]["t"] >= 0.3 * 0.95
    assert runs[2]["t"] - runs[1]["t"] >= 0.6 * 0.95


async def test_a_burst_through_a_pool_of_one_connection_waits_its_turn(config: QueueConfig) -> None:
    narrow = config.model_copy(update={"max_connections": 1})
    async with await Client.connect(narrow) as client:
        jobs = await asyncio.gather(*(client.enqueue_job("echo", i, _queue="alpha") for i in range(300)))
        assert len({j.job_id for j in jobs}) == 300
        assert await client.queue_size("alpha") == 300


async def test_an_idle_worker_starts_a_new_job_at_once(client: Client, redis_url: str, tmp_path: Path) -> None:
    worker = WorkerProcess(redis_url, tmp_path, "idle")
    try:
        worker.wait_for_event("worker.started")
        await asyncio.sleep(0.5)
        latencies = []
        for i in range(20):
            enqueued = time.time()
            job = await client.enqueue_job("echo", i, _queue="alpha")
            await job.result(timeout=5, poll_delay=0.005)
            runs = await recorded_runs(client, "echo")
            latencies.append(runs[-1]["t"] - enqueued)
        # Generous bound (tests are not benchmarks): far below arq's 0.5 s polling either way.
        assert sorted(latencies)[10] < 0.1, latencies
    finally:
        worker.stop()
