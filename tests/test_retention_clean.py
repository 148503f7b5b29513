"""Retention (completed and failed records kept by count and age, per queue or per job declaration, with their
results) and clean (bounded batches, exact counts), plus the event stream's replay, follow and trimming."""

from __future__ import annotations

import asyncio
import time

import pytest

from queue_system import (
    Client,
    ConfigError,
    InvalidArgument,
    JobRequest,
    QueueAPI,
    QueueConfig,
    QueueRetention,
    Retention,
    UnknownState,
    job,
    worker_settings,
)
from queue_system.retention import RESULT_TTL_SLACK_MS
from queue_system.runner import WorkerRuntime
from queue_system.worker import sweep_retention
from tests.app.jobs import ALL, always_fails, echo
from tests.support.queue_fixtures import run_burst


def settings_with(config: QueueConfig, **retention: QueueRetention) -> type:
    return worker_settings(jobs=ALL, queues=["alpha", "beta"], concurrency=4, config=config, retention=retention)


async def record_ids(client: Client, queue: str, state: str) -> list[str]:
    return [i.decode() for i in await client.redis.zrange(client.keys.index(queue, state), 0, -1)]


async def test_a_queue_keeps_its_last_completed_and_failed_records(client: Client, config: QueueConfig) -> None:
    """The product seed's policy: keep 10 completed and 5 failed; the rest go with their results and logs."""
    api = QueueAPI(client)
    settings = settings_with(config, alpha=QueueRetention.of(completed=10, failed=5))
    # 3 ms each, so no two finish in the same millisecond (the index's score): a tie sorts by id, not by order
    ok = await client.enqueue_many(
        [JobRequest("sleeper", (0.003, str(i)), queue="alpha", tags={"b": "1"}) for i in range(30)]
    )
    bad = await client.enqueue_many([JobRequest("fails_permanently", ("key",), queue="alpha") for _ in range(12)])
    await run_burst(settings, concurrency=1)
    (stats,) = await api.stats("alpha")
    assert (stats.counts.completed, stats.counts.failed) == (10, 5)
    assert (stats.totals.completed, stats.totals.failed) == (30, 12)
    assert (await api.counts("alpha", "b=1")).completed == 10
    kept = await record_ids(client, "alpha", "completed")
    assert kept == [j.job_id for j in ok[-10:]]  # the newest ten (concurrency 1: they finish in order)
    assert len(await record_ids(client, "alpha", "failed")) == 5
    gone = ok[0].job_id
    assert not await client.redis.exists(client.keys.meta(gone), f"arq:result:{gone}")
    assert await client.redis.exists(f"arq:result:{ok[-1].job_id}")
    assert await client.failed.count() == 12  # the failed store keeps its own, longer history
    assert bad[0].job_id in await client.failed.ids()


async def test_results_live_exactly_as_long_as_their_records(client: Client, config: QueueConfig) -> None:
    settings = settings_with(config, alpha=QueueRetention.of(Retention(age_s=120), Retention(age_s=600)))
    done = await client.enqueue_job("echo", 1, _queue="alpha")
    failed = await client.enqueue_job("fails_permanently", "key", _queue="alpha")
    await run_burst(settings)
    assert await client.redis.pttl(f"arq:result:{done.job_id}") == pytest.approx(120_000 + RESULT_TTL_SLACK_MS, 2000)
    assert await client.redis.pttl(f"arq:result:{failed.job_id}") == pytest.approx(600_000 + RESULT_TTL_SLACK_MS, 2000)
    assert await client.redis.ttl(client.keys.meta(done.job_id)) == -1  # removed by retention, never by a TTL


async def test_records_past_their_age_are_removed_by_the_sweep(client: Client, config: QueueConfig) -> None:
    api = QueueAPI(client)
    settings = settings_with(config, alpha=QueueRetention.of(Retention(age_s=0.3), Retention(age_s=0.3)))
    await client.enqueue_many([JobRequest("echo", (i,), queue="alpha", tags={"b": "2"}) for i in range(5)])
    await client.enqueue_job("always_fails", _queue="alpha")
    await run_burst(settings)
    assert (await api.counts("alpha")).completed == 5
    await asyncio.sleep(0.35)
    runtime = WorkerRuntime(client.redis, config, client.codec, stock_worker=False, retention=settings.qs_retention)
    assert await sweep_retention(runtime, ["alpha", "beta"]) == 6
    (stats,) = await api.stats("alpha")
    assert (stats.counts.completed, stats.counts.failed, stats.totals.completed) == (0, 0, 5)
    assert (await api.counts("alpha", "b=2")).completed == 0
    assert await client.redis.pttl(client.keys.tag_counts("alpha", "b", "2")) > 0  # an unused tag's hash expires


async def test_keep_completed_on_a_job_declaration_is_its_queues_policy(client: Client, config: QueueConfig) -> None:
    @job(queue="gamma", keep_completed=2, keep_failed=Retention(count=1))
    async def kept(ctx: dict[str, object], i: int) -> int:
        return i

    settings = worker_settings(jobs=[kept], config=config)
    await client.enqueue_many([JobRequest("kept", (i,), queue="gamma") for i in range(5)])
    await run_burst(settings)
    assert (await QueueAPI(client).counts("gamma")).completed == 2

    @job(queue="gamma", keep_completed=3)
    async def other(ctx: dict[str, object]) -> None: ...

    with pytest.raises(ConfigError, match="different keep_completed"):
        worker_settings(jobs=[kept, other], config=config)
    with pytest.raises(ConfigError, match="retention"):
        worker_settings(jobs=[kept], config=config, retention={"gamma": QueueRetention.of(completed=9)})


async def test_clean_removes_in_batches_and_keeps_counts_exact(client: Client, config: QueueConfig) -> None:
    api = QueueAPI(client)
    settings = settings_with(config, alpha=QueueRetention.of(completed=5000))
    await client.enqueue_many([JobRequest("echo", (i,), queue="alpha", tags={"e": str(i % 2)}) for i in range(1200)])
    await run_burst(settings, concurrency=50)
    assert await api.clean("alpha", "completed", older_than_s=3600) == 0  # nothing that old
    assert await api.clean("alpha", "completed", older_than_s=1.8e305) == 0  # older than the epoch: none either
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(InvalidArgument, match="older_than_s"):
            await api.clean("alpha", "completed", older_than_s=bad)
    assert await api.clean("alpha", "completed", limit=150) == 150
    assert await api.clean("alpha", "completed") == 1050  # three batches
    (stats,) = await api.stats("alpha")
    assert stats.counts.completed == 0 and stats.totals.completed == 1200
    assert (await api.counts("alpha", "e=1")).completed == 0

    queued = await client.enqueue_many([JobRequest("echo", (i,), queue="alpha") for i in range(700)])
    later = await client.enqueue_job("echo", "later", _queue="alpha", _defer_by=60)
    assert await api.clean("alpha", "waiting", older_than_s=60) == 0
    assert await api.clean("alpha", "waiting") == 700
    assert await api.clean("alpha", "delayed") == 1
    counts = await api.counts("alpha")
    assert (counts.waiting, counts.delayed) == (0, 0) and await client.queue_size("alpha") == 0
    assert not await client.redis.exists(f"arq:job:{queued[0].job_id}", f"arq:job:{later.job_id}")
    with pytest.raises(UnknownState):
        await api.clean("alpha", "active")
    cleaned = [e for e in [e async for e in api.events(last=20)] if e.event == "cleaned"]
    assert sum(int(e.data["count"]) for e in cleaned) == 1200 + 701


async def test_events_replay_the_last_n_then_follow_without_gaps(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    await api.pause("beta")
    await api.resume("beta")
    seen: list[str] = []

    async def follow() -> None:
        async for event in api.events(last=1, follow=True, block_s=0.2):
            seen.append(event.event)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    await client.enqueue_job("flaky", 2, _queue="alpha", _tags={"event_id": "9"})
    await client.enqueue_job("fails_permanently", "key", _queue="alpha")
    await run_burst(app_settings)
    deadline = time.monotonic() + 5
    while seen.count("completed") < 1 or "failed" not in seen:
        assert time.monotonic() < deadline, seen
        await asyncio.sleep(0.02)
    task.cancel()
    assert seen[0] == "resumed"  # the replayed last one, once
    assert seen.count("resumed") == 1 and "paused" not in seen
    assert {"retrying", "completed", "failed"} <= set(seen)
    events = [e async for e in api.events(last=100)]
    retrying = next(e for e in events if e.event == "retrying")
    assert retrying.function == "flaky" and retrying.queue == "alpha" and retrying.tags == {"event_id": "9"}
    assert retrying.data["error"].startswith("ConnectionError") and int(retrying.data["due"]) > retrying.at_ms
    assert [e.at_ms for e in events] == sorted(e.at_ms for e in events)


async def test_the_stream_is_trimmed_and_can_be_turned_off(client: Client, config: QueueConfig) -> None:
    small = config.model_copy(update={"events_maxlen": 50})
    await client.enqueue_many([JobRequest("echo", (i,), queue="alpha") for i in range(600)])
    await run_burst(worker_settings(jobs=[echo], config=small, concurrency=20))
    assert 50 <= await client.redis.xlen(client.keys.events) < 250  # about MAXLEN (trimmed by whole nodes)
    await client.redis.delete(client.keys.events)
    off = config.model_copy(update={"events_maxlen": 0})
    await client.enqueue_job("always_fails", _queue="alpha")
    await run_burst(worker_settings(jobs=[always_fails], config=off))
    assert not await client.redis.exists(client.keys.events)


def test_retention_settings_come_from_the_environment() -> None:
    config = QueueConfig.from_env(
        {"QS_KEEP_COMPLETED_COUNT": "none", "QS_KEEP_FAILED_COUNT": "5", "QS_KEEP_FAILED_AGE_S": "60"}
    )
    assert (config.keep_completed_count, config.keep_failed_count, config.keep_failed_age_s) == (None, 5, 60)
    with pytest.raises(ConfigError):
        QueueConfig.from_env({"QS_KEEP_COMPLETED_COUNT": "-1"})
    with pytest.raises(ConfigError):
        Retention(count=-1)
