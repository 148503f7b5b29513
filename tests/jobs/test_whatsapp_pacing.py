"""The pacers behind the pacing seam (per process, and shared through Redis): sender rate, per-recipient
interval, and throttle pauses.

Only lower bounds on waiting are asserted (a loaded machine can make waits longer, never shorter).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from redis.asyncio import Redis

from jobs.whatsapp.pacing import LocalPacer, Pacer
from jobs.whatsapp.shared_pacing import RedisPacer


async def elapsed(call: Awaitable[None]) -> float:
    started = time.monotonic()
    await call
    return time.monotonic() - started


async def test_sends_are_spaced_at_the_sender_rate() -> None:
    pacer: Pacer = LocalPacer(per_second=20, recipient_interval_s=0)
    started = time.monotonic()
    await asyncio.gather(*(pacer.before_send(f"+62812000000{i:02d}") for i in range(6)))
    assert time.monotonic() - started >= 5 * 0.05 * 0.95


async def test_one_recipient_waits_its_interval_and_others_do_not() -> None:
    pacer = LocalPacer(per_second=0, recipient_interval_s=0.3)
    await pacer.before_send("+6281200000001")
    other = await elapsed(pacer.before_send("+6281200000002"))
    same = await elapsed(pacer.before_send("+6281200000001"))
    assert same >= 0.28 and other < same


async def test_a_throttle_pauses_every_send() -> None:
    pacer = LocalPacer(per_second=0, recipient_interval_s=0)
    assert await elapsed(pacer.before_send("+6281200000001")) < 0.25  # unpaced: no wait at all
    await pacer.throttled(0.3)
    assert await elapsed(pacer.before_send("+6281200000002")) >= 0.28


async def test_the_redis_pacer_shares_the_recipient_interval_and_throttles_across_pacers(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        one, other = (RedisPacer(redis, "qs", "sender-1", per_second=0, recipient_interval_s=0.4) for _ in range(2))
        started = time.monotonic()
        await one.before_send("+6281200000001")
        await other.before_send("+6281200000001")  # another process's send to the recipient counts
        assert time.monotonic() - started >= 0.38
        started = time.monotonic()
        await other.before_send("+6281200000002")  # a recipient of its own: no wait
        await other.throttled(0.3, "+6281200000002")  # the sender pauses; recipient 2 gets its turn back
        assert await redis.zcard("qs:rate:t:whatsapp:to:+6281200000002") == 0
        await one.before_send("+6281200000003")
        assert time.monotonic() - started >= 0.28  # every process waits out the sender's pause
    finally:
        await redis.aclose()
