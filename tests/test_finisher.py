"""Writing outcomes (queue_system/finisher.py) on the real Redis: the Finisher, not the job's task, owns each write —
outcomes handed over are written with nobody waiting, a Redis restart is retried through, an outcome past its lease
is abandoned (logged), and a stale attempt's outcome is refused and counted."""

from __future__ import annotations

import asyncio
import time

import structlog

from queue_system import Client, QueueConfig
from queue_system.connection import close_redis, create_redis
from queue_system.execution import Claim, parse_claims
from queue_system.finisher import Finisher
from queue_system.keys import queue_key
from queue_system.scripts import Scripts
from tests.support.redis_server import RedisServer
from tests.test_wakeup import claim_args


def completed(claim: Claim, token: str | None = None) -> list[str]:
    """finish.lua's entry for a completed attempt that keeps no result."""
    identity = [claim.job_id, token or claim.token, "completed", "", "0", "0", "alpha", queue_key("alpha")]
    return [*identity, "", "-1", "-1", str(claim.job_try), "", "echo"]


async def state(client: Client, claim: Claim) -> bytes | None:
    recorded: bytes | None = await client.redis.hget(client.keys.meta(claim.job_id), "s")  # type: ignore[misc]
    return recorded


async def claimed(client: Client, count: int = 1) -> list[Claim]:
    for i in range(count):
        await client.enqueue_job("echo", i, _queue="alpha")
    answer = await Scripts(client.redis).claim(keys=[queue_key("alpha")], args=claim_args(count))
    return parse_claims(answer, ["alpha"])[1]


async def test_a_redis_restart_is_retried_through(config: QueueConfig) -> None:
    with RedisServer(appendonly=True) as server:  # AOF: the claimed jobs and their leases survive the restart
        own = config.model_copy(update={"redis_url": server.url})
        async with await Client.connect(own) as client:
            jobs = await claimed(client, 3)
            finisher = Finisher(Scripts(client.redis), own)
            server.stop()
            with structlog.testing.capture_logs() as logs:
                for claim in jobs:
                    finisher.hand_over(completed(claim), time.monotonic() + 30)
                await asyncio.sleep(0.5)  # a few failed tries
                server.start()
                await finisher.wait_written(timeout=15)
            assert any(line["event"] == "job.finish_retrying" for line in logs)
            for claim in jobs:
                assert await state(client, claim) == b"completed"


async def test_an_outcome_past_its_deadline_is_abandoned(config: QueueConfig, client: Client) -> None:
    [claim] = await claimed(client)
    unreachable = create_redis(config.model_copy(update={"redis_url": "redis://127.0.0.1:9/0"}), client.codec)
    try:
        finisher = Finisher(Scripts(unreachable), config)
        started = time.monotonic()
        with structlog.testing.capture_logs() as logs:
            finisher.hand_over(completed(claim), started + 0.3)
            await finisher.wait_written(timeout=10)
        assert time.monotonic() - started < 5 and not finisher.pending
        [abandoned] = [line for line in logs if line["event"] == "job.finish_abandoned"]
        assert abandoned["job_id"] == claim.job_id
    finally:
        await close_redis(unreachable)
    assert await state(client, claim) == b"active"  # not written: the attempt's lease runs on


async def test_a_stale_attempts_outcome_is_refused_and_counted(client: Client, config: QueueConfig) -> None:
    first, second = await claimed(client, 2)
    finisher = Finisher(Scripts(client.redis), config)
    deadline = time.monotonic() + 30
    finisher.hand_over(completed(first, token="another-worker:stale:1"), deadline)
    finisher.hand_over(completed(second), deadline)
    await finisher.wait_written(timeout=5)
    assert finisher.refused == 1
    assert await state(client, first) == b"active"
    assert await state(client, second) == b"completed"


async def test_outcomes_handed_over_are_written_without_a_waiter_and_a_script_error_is_logged(
    client: Client, config: QueueConfig
) -> None:
    """The worker's own path: its job tasks hand the outcome over and end; a stopping worker waits for the writes."""
    jobs = await claimed(client, 3)
    finisher = Finisher(Scripts(client.redis), config)
    for claim in jobs:
        finisher.hand_over(completed(claim), time.monotonic() + 30)
    await finisher.wait_written(timeout=5)
    for claim in jobs:
        assert await state(client, claim) == b"completed"

    [other] = await claimed(client)
    with structlog.testing.capture_logs() as logs:
        finisher.hand_over(completed(other)[:3], time.monotonic() + 30)  # finish.lua cannot read it: a bug's shape
        await finisher.wait_written(timeout=5)
    [failure] = [line for line in logs if line["event"] == "job.finish_failed"]
    assert failure["job_ids"] == [other.job_id] and failure["log_level"] == "error"
    assert await state(client, other) == b"active"  # nothing written; its lease runs out and it runs again
