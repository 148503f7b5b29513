"""Enqueueing: options, typed handles, exact duplicate detection, bulk, and errors that write nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest

from queue_system import (
    Client,
    EnqueueError,
    JobRequest,
    PayloadTooLarge,
    Priority,
    QueueConfig,
    SerializationError,
    Unique,
    use_client,
)
from queue_system.keys import queue_key
from queue_system.types import PRIORITY_BAND
from tests.app.jobs import echo, ordered
from tests.support.indexes import assert_indexes_exact


async def test_enqueue_by_name_writes_an_arq_job(client: Client) -> None:
    job = await client.enqueue_job("echo", 1, _queue="alpha", _tags={"event_id": 5})
    assert not job.duplicate
    assert await client.queue_size("alpha") == 1
    meta = await client.redis.hgetall(client.keys.meta(job.job_id))
    assert meta[b"q"] == b"alpha" and meta[b"tg"] == b'{"event_id":"5"}'
    # This client has keys and has never seen "echo": it may be sensitive, so its payload is encrypted.
    assert b'"enc":' in await client.redis.get(f"arq:job:{job.job_id}")
    async with await Client.connect(client.config.model_copy(update={"encryption_keys": ()})) as keyless:
        plain = await keyless.enqueue_job("echo", 1, _queue="alpha")
        assert (await keyless.redis.get(f"arq:job:{plain.job_id}")).startswith(b'{"t":null,"f":"echo","a":[1]')


async def test_typed_handle_uses_its_declared_queue_and_priority(client: Client) -> None:
    with use_client(client):
        job = await ordered.enqueue("x")
        assert job.queue == "alpha"
        deferred = await ordered.options(defer_by=60, priority="critical", job_id="mine").enqueue("y")
        assert deferred.job_id == "mine"
        legacy = await ordered.enqueue("z", _defer_by=dt.timedelta(seconds=30))  # type: ignore[call-arg]
    scores = dict(await client.redis.zrange(queue_key("alpha"), 0, -1, withscores=True))
    now_ms = dt.datetime.now(dt.UTC).timestamp() * 1000
    assert scores[job.job_id.encode()] < 1e12  # ready: in its priority band
    assert abs(scores[b"mine"] - (now_ms + 60_000)) < 5_000  # deferred: its due time
    assert abs(scores[legacy.job_id.encode()] - (now_ms + 30_000)) < 5_000
    assert Priority.from_score(scores[b"mine"]) == Priority.CRITICAL  # a deferred score carries its priority


async def test_defer_until_needs_an_aware_datetime(client: Client) -> None:
    with pytest.raises(EnqueueError, match="timezone"):
        await client.enqueue_job("echo", 1, _defer_until=dt.datetime(2030, 1, 1))
    with pytest.raises(EnqueueError, match="not both"):
        await client.enqueue_job("echo", 1, _defer_by=1, _defer_until=dt.datetime.now(dt.UTC))


async def test_duplicate_id_creates_one_job_and_reports_it(client: Client) -> None:
    first = await client.enqueue_job("echo", 1, _job_id="same", _queue="alpha")
    second = await client.enqueue_job("echo", 2, _job_id="same", _queue="alpha")
    assert (first.duplicate, second.duplicate) == (False, True)
    assert await client.queue_size("alpha") == 1


async def test_one_hundred_concurrent_duplicates_make_one_job(config: QueueConfig) -> None:
    clients = [await Client.connect(config) for _ in range(4)]
    try:
        jobs = await asyncio.gather(
            *(clients[i % 4].enqueue_job("echo", i, _job_id="contended", _queue="alpha") for i in range(100))
        )
        assert sum(not j.duplicate for j in jobs) == 1
        assert await clients[0].queue_size("alpha") == 1
    finally:
        for c in clients:
            await c.close()


async def test_bulk_enqueue_of_ten_thousand_is_one_round_trip(client: Client, monkeypatch: Any) -> None:
    executes = 0
    original = client.redis.pipeline

    def counting_pipeline(*args: Any, **kwargs: Any) -> Any:
        nonlocal executes
        executes += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(client.redis, "pipeline", counting_pipeline)
    requests = [JobRequest("echo", (i,), queue="alpha") for i in range(10_000)]
    requests.append(JobRequest("echo", (0,), queue="alpha", job_id="dup"))
    requests.append(JobRequest("echo", (1,), queue="alpha", job_id="dup"))
    jobs = await client.enqueue_many(requests)
    assert executes == 1
    assert sum(j.duplicate for j in jobs) == 1
    assert await client.queue_size("alpha") == 10_001


async def test_a_mixed_bulk_call_leaves_queues_indexes_and_counters_exact(client: Client) -> None:
    """enqueue.lua writes the queue and index members of new jobs with ids it drew once per key at the end of the
    call; jobs with chosen ids, unique keys and debounced replacements in between must see what came before."""
    debounce = Unique.debounce(60, key=lambda *_args: "one-key")
    requests = [JobRequest("echo", (i,), queue=("alpha", "beta")[i % 2], tags={"t": str(i % 3)}) for i in range(700)]
    requests[100:100] = [JobRequest("echo", ("chosen",), queue="alpha", job_id="chosen-1")] * 2
    requests[300:300] = [
        JobRequest("echo", ("first",), queue="alpha", unique=debounce),
        JobRequest("echo", ("second",), queue="alpha", unique=debounce, defer_by=120),  # moves the first's time
    ]
    requests[500:500] = [JobRequest("echo", ("later",), queue="beta", defer_by=30, tags={"t": "x"})]
    jobs = await client.enqueue_many(requests)

    assert [j.duplicate for j in jobs].count(True) == 1  # the second chosen id
    assert jobs[300].job_id == jobs[301].job_id  # the debounced second enqueue replaced the first in place
    debounced_due_s = (await client.redis.zscore(queue_key("alpha"), jobs[300].job_id)) / 1000
    assert debounced_due_s > time.time() + 100  # the second's due time, not the first's
    created = sorted({j.job_id for j in jobs if not j.duplicate})
    assert len(created) == 703
    assert await client.queue_size("alpha") + await client.queue_size("beta") == 703
    indexes = await assert_indexes_exact(client, created)
    queue_scores = dict(await client.redis.zrange(queue_key("alpha"), 0, -1, withscores=True))
    by_function = dict(
        await client.redis.zrange(f"{client.keys.prefix}:jobs:alpha:waiting:fn:echo", 0, -1, withscores=True)
    )
    assert by_function and all(queue_scores[member] == score for member, score in by_function.items())  # run order
    assert sum(len(members) for key, members in indexes.items() if key.endswith(":waiting:fn:echo")) == 701


async def test_a_bulk_call_keeps_its_order_and_each_handle_names_its_own_job(client: Client) -> None:
    """Runs of plain jobs travel compactly (one shape, the ids in one string, bare payloads) and jobs that differ
    (tags, a chosen id, another priority) cut the runs: FIFO numbers must still follow the call's order, across
    several script calls, and every handle's id must hold the arguments it was enqueued with."""
    requests = [JobRequest("echo", (i,), queue="alpha", tags={"n": "x"} if i % 400 == 7 else {}) for i in range(2600)]
    requests[1200:1200] = [JobRequest("echo", ("chosen",), queue="alpha", job_id="chosen-a")]
    requests[1500:1500] = [JobRequest("echo", ("urgent",), queue="alpha", priority=Priority.HIGH)]
    jobs = await client.enqueue_many(requests)

    assert len({j.job_id for j in jobs}) == len(requests) and not any(j.duplicate for j in jobs)
    assert all(j.queue == "alpha" for j in jobs)
    in_run_order = [m.decode() for m in await client.redis.zrange(queue_key("alpha"), 0, -1)]
    urgent = jobs[1500].job_id
    assert in_run_order[0] == urgent  # the higher priority first, then the rest in the call's order
    assert in_run_order[1:] == [j.job_id for j in jobs if j.job_id != urgent]
    payloads = await client.redis.mget([f"arq:job:{j.job_id}" for j in jobs])
    assert [client.codec.deserialize(p)["a"] for p in payloads] == [list(r.args) for r in requests]
    tagged = await client.redis.hget(f"{client.keys.prefix}:meta:{jobs[7].job_id}", "tg")
    assert tagged == b'{"n":"x"}'


async def test_a_run_of_plain_jobs_gets_the_same_scores_one_by_one_enqueues_would(client: Client) -> None:
    """enqueue.lua formats a run's scores itself (as integers, once per job): they must be exactly the priority
    band plus the queue's next FIFO numbers, continuing from single enqueues and continued by them."""
    first = await client.enqueue_job("echo", 0, _queue="alpha", _priority=Priority.HIGH)
    run = await client.enqueue_many([JobRequest("echo", (i,), queue="alpha", priority=Priority.HIGH) for i in range(3)])
    last = await client.enqueue_job("echo", 4, _queue="alpha", _priority=Priority.HIGH)
    scores = [await client.redis.zscore(queue_key("alpha"), job.job_id) for job in (first, *run, last)]
    band = int(Priority.HIGH) * PRIORITY_BAND
    assert scores == [band + seq for seq in range(1, 6)]
    fn_index = f"{client.keys.prefix}:jobs:alpha:waiting:fn:echo"
    assert [await client.redis.zscore(fn_index, job.job_id) for job in run] == scores[1:4]


async def test_unserializable_argument_raises_and_writes_nothing(client: Client) -> None:
    before = await client.redis.dbsize()
    with pytest.raises(SerializationError):
        await client.enqueue_job("echo", object(), _queue="alpha")
    with pytest.raises(SerializationError):  # one bad job in a bulk call writes none of them
        await client.enqueue_many([JobRequest("echo", (1,)), JobRequest("echo", ({1, object()},))])
    assert await client.redis.dbsize() == before


async def test_oversized_payload_is_refused_before_writing(config: QueueConfig) -> None:
    small = config.model_copy(update={"max_payload_bytes": 1000})
    async with await Client.connect(small) as client:
        before = await client.redis.dbsize()
        with pytest.raises(PayloadTooLarge, match="1000"):
            await client.enqueue_job("echo", "x" * 2000)
        await client.enqueue_job("echo", "x" * 100)
        assert await client.redis.dbsize() > before


async def test_invalid_queue_and_priority_are_typed_errors(client: Client) -> None:
    with pytest.raises(EnqueueError, match="queue"):
        await client.enqueue_job("echo", 1, _queue="no spaces allowed")
    with pytest.raises(EnqueueError, match="critical, high, normal, low, background"):
        await client.enqueue_job("echo", 1, _priority="urgent")


async def test_enqueue_by_name_follows_the_policy_workers_publish(
    client: Client, config: QueueConfig, app_settings: type
) -> None:
    from queue_system.runner import WorkerRuntime
    from queue_system.worker_settings import _publish

    runtime = WorkerRuntime(client.redis, config, client.codec, stock_worker=False)
    await _publish(runtime, app_settings.qs_specs)
    async with await Client.connect(config) as fresh:  # knows nothing locally
        job = await fresh.enqueue_job("on_beta", 1)
        assert job.queue == "beta"
        low = await fresh.enqueue_job("ordered", "x")
        score = await fresh.redis.zscore(queue_key("alpha"), low.job_id)
        assert Priority.from_score(score) == Priority.LOW


async def test_a_redis_that_is_down_fails_fast(config: QueueConfig) -> None:
    from queue_system import RedisUnavailable

    down = config.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "connect_timeout_s": 1.0})
    started = asyncio.get_running_loop().time()
    with pytest.raises(RedisUnavailable):
        await Client.connect(down)
    assert asyncio.get_running_loop().time() - started < 5


async def test_handle_runs_directly_too(client: Client) -> None:
    assert await echo({"redis": client.redis, "job_try": 1, "job_id": "direct"}, 42) == 42
