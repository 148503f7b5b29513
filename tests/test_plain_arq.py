"""A service with only plain arq installed enqueues with the README's JSON pair; its jobs run with the function's
registered policy (queue, priority, retries) and it reads results."""

from __future__ import annotations

import json

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from queue_system import Client
from tests.support.queue_fixtures import recorded_runs, run_burst


@pytest.fixture
async def plain_pool(redis_url: str) -> ArqRedis:
    # Exactly what the README tells a plain-arq service to use.
    pool = await create_pool(
        RedisSettings.from_dsn(redis_url),
        job_serializer=lambda data: json.dumps(data).encode(),
        job_deserializer=json.loads,
    )
    yield pool
    await pool.aclose()


async def test_plain_job_runs_with_the_registered_policy(
    plain_pool: ArqRedis, client: Client, app_settings: type
) -> None:
    job = await plain_pool.enqueue_job("flaky", 2)  # arq's default queue: routed to flaky's queue "alpha"
    assert job is not None
    await run_burst(app_settings)
    assert await job.result(timeout=2) == "ok on try 2"  # retried by policy (plain arq would not retry)
    runs = await recorded_runs(client, "flaky")
    assert [r["try"] for r in runs] == [1, 2]


async def test_plain_job_to_a_named_queue_gets_its_priority(
    plain_pool: ArqRedis, client: Client, app_settings: type
) -> None:
    await client.enqueue_job("ordered", "normal-first", _queue="alpha", _priority="normal")
    await plain_pool.enqueue_job("echo", "plain", _queue_name="arq:queue:alpha")
    await client.enqueue_job("ordered", "background", _queue="alpha", _priority="background")
    await run_burst(app_settings, concurrency=1)
    names = [r["args"][0] for r in await recorded_runs(client)]
    assert names == ["normal-first", "plain", "background"]


async def test_plain_client_reads_a_failure(plain_pool: ArqRedis, client: Client, app_settings: type) -> None:
    job = await plain_pool.enqueue_job("always_fails", "p")
    await run_burst(app_settings)
    info = await job.result_info()
    assert info is not None and info.success is False
    assert info.result["type"] == "ValueError" and info.result["message"] == "always fails p"
    assert (await client.failed.get(job.job_id)).queue == "alpha"
