"""An idle worker's wait with its claim queued behind it (queue_system/wakeup.py) on the real Redis: the job a
token announces is leased in the same call, with the time Redis has when it finds work; a flushed script cache is
survived; and claims a worker has no room for are given back untried and run later, once."""

from __future__ import annotations

import asyncio
import signal
import time

from queue_system import Client, QueueAPI, QueueConfig
from queue_system.connection import close_redis, create_redis
from queue_system.execution import parse_claims
from queue_system.keys import queue_key
from queue_system.runner import CTX_RUNTIME
from queue_system.scripts import Scripts
from queue_system.wakeup import WakeAndClaim, sent_at
from queue_system.worker import create_worker
from tests.support.indexes import assert_indexes_exact
from tests.support.queue_fixtures import recorded_runs

CLAIM_ARGS_TAIL = ["30000", "test-worker", "qs", 1, "alpha"]  # lease ms, token prefix, prefix, queues, names


def claim_args(free: int) -> list[object]:
    lease_ms, token_prefix, prefix, count, name = CLAIM_ARGS_TAIL
    return [sent_at(int(time.time() * 1000)), free, lease_ms, token_prefix, prefix, count, name]


async def test_the_job_a_token_announces_is_claimed_in_the_same_call(client: Client, config: QueueConfig) -> None:
    blocking = create_redis(config, client.codec, socket_timeout_s=10)
    wait_and_claim = WakeAndClaim(blocking, Scripts(blocking).claim)
    try:
        sent = time.time()
        call = asyncio.create_task(wait_and_claim([client.keys.wake("alpha")], 5, [queue_key("alpha")], claim_args(4)))
        await asyncio.sleep(0.3)
        assert not call.done()  # nothing to do yet: it waits on the wake list
        enqueued_ms = int(time.time() * 1000)
        job = await client.enqueue_job("echo", "hi", _queue="alpha")
        answer = await asyncio.wait_for(call, 3)  # far sooner than the 5 s wait: the token ended it
    finally:
        await close_redis(blocking)

    _next_due, claims = parse_claims(answer, ["alpha"])
    assert [c.job_id for c in claims] == [job.job_id]
    assert claims[0].job_try == 1
    record = await client.redis.hgetall(client.keys.meta(job.job_id))  # type: ignore[misc]
    assert record[b"s"] == b"active"
    # the claim ran when the job came, not when it was sent: its start time is Redis's clock at that moment
    assert int(record[b"st"]) >= enqueued_ms - 50 > int(sent * 1000) + 200
    assert await client.redis.get(f"arq:in-progress:{job.job_id}") == claims[0].token.encode()


async def test_a_flushed_script_cache_is_loaded_again(client: Client, config: QueueConfig) -> None:
    blocking = create_redis(config, client.codec, socket_timeout_s=10)
    wait_and_claim = WakeAndClaim(blocking, Scripts(blocking).claim)
    try:
        job = await client.enqueue_job("echo", "after flush", _queue="alpha")  # leaves a token
        await client.redis.script_flush()
        answer = await wait_and_claim([client.keys.wake("alpha")], 1, [queue_key("alpha")], claim_args(4))
    finally:
        await close_redis(blocking)
    _next_due, claims = parse_claims(answer, ["alpha"])
    assert [c.job_id for c in claims] == [job.job_id]


async def test_claims_without_room_are_given_back_untried_and_run_once_later(
    client: Client, app_settings: type
) -> None:
    worker = create_worker(app_settings, queues=["alpha"], concurrency=1, handle_signals=False)
    serving = asyncio.create_task(worker.async_run())
    try:
        busy = await client.enqueue_job("sleeper", 1.0, "fills the only slot", _queue="alpha")
        deadline = time.monotonic() + 10
        while busy.job_id not in worker.running and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert busy.job_id in worker.running
        api = QueueAPI(client)
        await api.pause("alpha")  # the worker must not claim these two itself
        late = [await client.enqueue_job("echo", f"late {i}", _queue="alpha") for i in range(2)]
        await api.resume("alpha")
        runtime = worker.ctx[CTX_RUNTIME]
        keys, args = worker._claim_call(2, int(time.time() * 1000))  # a claim that came back after the slot filled
        _next_due, claims = parse_claims(await runtime.scripts.claim(keys=keys, args=args), ["alpha"])
        assert sorted(c.job_id for c in claims) == sorted(j.job_id for j in late)
        worker._take(claims)
        ids = [busy.job_id, *(j.job_id for j in late)]
        while time.monotonic() < deadline:  # given back: waiting again, and counted and indexed as such
            states = [await client.redis.hget(client.keys.meta(j.job_id), "s") for j in late]  # type: ignore[misc]
            if states == [b"waiting", b"waiting"]:
                break
            await asyncio.sleep(0.01)
        await assert_indexes_exact(client, ids)
        for i, job in enumerate(late):
            assert await job.result(timeout=10) == f"late {i}"
    finally:
        worker.handle_sig(signal.SIGTERM)
        await asyncio.wait_for(serving, 15)
        await worker.close()
    runs = await recorded_runs(client, "echo")
    assert sorted((r["job_id"], r["try"]) for r in runs) == sorted((j.job_id, 1) for j in late)


async def test_a_claim_finds_ready_jobs_behind_many_running_ones(client: Client) -> None:
    """Running jobs keep their place at the front of the queue; a claim for one slot must look past them."""
    jobs = [await client.enqueue_job("echo", i, _queue="alpha") for i in range(40)]
    claim = Scripts(client.redis).claim
    _due, running = parse_claims(await claim(keys=[queue_key("alpha")], args=claim_args(30)), ["alpha"])
    assert len(running) == 30  # the 30 oldest are leased and stay at the front
    _due, more = parse_claims(await claim(keys=[queue_key("alpha")], args=claim_args(1)), ["alpha"])
    assert [c.job_id for c in more] == [jobs[30].job_id]
