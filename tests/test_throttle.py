"""The shared rate limiter (queue_system/throttle.py) on the real Redis: exact windows across processes and many
concurrent clients, several scopes at once, pauses that hold for everyone, and give-backs.

Windows are checked exactly, from the Redis times the limiter itself counted each start at (``Grant.at_ms``):
with a limit of n per w ms, the (i + n)-th start is never less than w ms after the i-th.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from queue_system import ConfigError, Rate, SharedRateLimiter, SlowDown, Throttled
from tests.support.queue_fixtures import ROOT, subprocess_env


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def assert_never_more_than(times_ms: list[int], limit: int, window_ms: int) -> None:
    times_ms = sorted(times_ms)
    for i in range(len(times_ms) - limit):
        gap = times_ms[i + limit] - times_ms[i]
        assert gap >= window_ms, f"{limit + 1} starts within {gap} ms (window {window_ms} ms) from #{i}"


async def test_many_concurrent_clients_never_exceed_the_limit_in_any_window(redis: Redis) -> None:
    limiters = [SharedRateLimiter(redis) for _ in range(3)]  # three independent holders, as three processes are
    granted: list[int] = []

    async def client(limiter: SharedRateLimiter) -> None:
        for _ in range(4):
            granted.append((await limiter.acquire("host:a", 5, 0.2)).at_ms)

    started = time.monotonic()
    await asyncio.gather(*(client(limiters[i % 3]) for i in range(10)))
    assert len(granted) == 40
    assert_never_more_than(granted, 5, 200)
    assert time.monotonic() - started >= 7 * 0.2 * 0.95  # 40 starts at 5 per 0.2 s need 7 more windows


@pytest.mark.slow
async def test_three_processes_share_one_limit(redis_url: str) -> None:
    command = [sys.executable, "-m", "tests.app.throttle_clients", redis_url, "shared", "4", "0.25", "6", "1.5"]
    procs = [
        await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=subprocess_env(redis_url), stdout=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    outputs = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    per_process = [json.loads(out) for out, _ in outputs]
    assert all(per_process), "every process got starts"
    granted = [t for times in per_process for t in times]
    assert_never_more_than(granted, 4, 250)
    assert len(granted) >= 12  # it admits at the limit, not far below: about 4 per 0.25 s over ~1.5 s


async def test_try_acquire_says_how_long_and_records_nothing_when_refused(redis: Redis) -> None:
    limiter = SharedRateLimiter(redis)
    assert await limiter.try_acquire("t", 2, 0.5) == 0.0
    assert await limiter.try_acquire("t", 2, 0.5) == 0.0
    wait = await limiter.try_acquire("t", 2, 0.5)
    assert 0 < wait <= 0.5
    assert await redis.zcard("qs:rate:t:t") == 2  # the refusal took nothing
    await asyncio.sleep(wait)
    assert await limiter.try_acquire("t", 2, 0.5) == 0.0


async def test_several_scopes_are_taken_together_or_not_at_all(redis: Redis) -> None:
    limiter = SharedRateLimiter(redis)
    sender, alice, bob = Rate("sender", 10, 1), Rate("to:alice", 1, 1), Rate("to:bob", 1, 1)
    assert await limiter.try_acquire_all([sender, alice]) == 0.0
    assert await limiter.try_acquire_all([sender, alice]) > 0.5  # alice's interval is not over
    assert await limiter.try_acquire_all([sender, bob]) == 0.0
    assert await redis.zcard("qs:rate:t:sender") == 2  # the refused pair left no start in the sender's log


async def test_a_pause_holds_for_every_holder_and_only_gets_longer(redis: Redis) -> None:
    one, other = SharedRateLimiter(redis), SharedRateLimiter(redis)
    started = time.monotonic()
    assert await one.pause("host:b", 0.4) == pytest.approx(0.4, abs=0.01)
    assert await other.pause("host:b", 0.1) > 0.1  # a shorter pause leaves the longer one
    assert 0 < await other.try_acquire("host:b", 0, 1) <= 0.4  # limit 0: no rate, yet the pause applies
    assert 0 < await other.paused_for("host:b") <= 0.4
    await other.acquire("host:b", 100, 1)
    assert time.monotonic() - started >= 0.38
    assert await other.paused_for("host:b") == 0.0


async def test_a_long_wait_raises_throttled_a_slow_down_instead_of_sleeping(redis: Redis) -> None:
    limiter = SharedRateLimiter(redis)
    await limiter.pause("host:c", 30)
    started = time.monotonic()
    with pytest.raises(Throttled) as caught:
        await limiter.acquire("host:c", 1, 1, max_wait_s=1)
    assert time.monotonic() - started < 5  # it did not sleep the 30 s
    assert isinstance(caught.value, SlowDown) and 25 < caught.value.retry_after <= 30


async def test_a_released_start_does_not_count(redis: Redis) -> None:
    limiter = SharedRateLimiter(redis)
    grant = await limiter.acquire("to:carol", 1, 6)
    assert await limiter.try_acquire("to:carol", 1, 6) > 5
    await limiter.release(grant, "to:carol")
    assert await limiter.try_acquire("to:carol", 1, 6) == 0.0


def test_rates_are_checked_and_per_second_becomes_a_window() -> None:
    assert Rate.per_second("s", 0) == Rate("s", 0)
    assert Rate.per_second("s", 0.5) == Rate("s", 1, 2.0)
    assert Rate.per_second("s", 20) == Rate("s", 20, 1.0)
    assert Rate.per_second("s", 2.5) == Rate("s", 2, 0.8)
    for bad in ({"limit": -1}, {"limit": 1.5}, {"window_s": 0}):
        with pytest.raises(ConfigError):
            Rate(**{"scope": "s", "limit": 1, **bad})  # type: ignore[arg-type]
