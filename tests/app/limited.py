"""Test jobs and WorkerSettings for limits: rate limits, concurrency caps, SlowDown, unique jobs.

Each job records its start (and, for the capped ones, its end) in ``test:runs`` through tests.app.jobs.record, so
a test can check from recorded times that no window held too many starts and no instant too many running jobs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from queue_system import JobContext, QueueLimits, RateLimit, SlowDown, Unique, job, worker_settings

from .jobs import record

# The product seed's limit, scaled down for a fast suite: 5 starts per second.
RATE_N, RATE_WINDOW_S = 5, 1.0


@job(queue="limited", rate_limit=RateLimit(RATE_N, per=RATE_WINDOW_S))
async def rate_limited(ctx: JobContext, i: int) -> int:
    await record(ctx, "rate_limited", i)
    return i


@job(queue="qlimited")
async def on_limited_queue(ctx: JobContext, i: int) -> int:
    """No limit of its own: its queue allows 5 starts per second."""
    await record(ctx, "on_limited_queue", i)
    return i


@job(queue="keyed", rate_limit=RateLimit(1, per=1.0, key=lambda to, *_: to))
async def send_to(ctx: JobContext, to: str, text: str) -> str:
    """One message per recipient per second (WhatsApp's one per 6 s, scaled down)."""
    await record(ctx, "send_to", to, text)
    return to


@job(queue="capped", concurrency=2, max_tries=3)
async def capped(ctx: JobContext, seconds: float, hang_first_try: bool = False) -> str:
    await record(ctx, "capped", seconds)
    await asyncio.sleep(3600 if hang_first_try and ctx["job_try"] == 1 else seconds)
    await record(ctx, "capped-done", seconds)
    return "ok"


@job(queue="limited", max_tries=1)
async def slows_down(ctx: JobContext, times: int) -> int:
    """Asks to slow down ``times`` times (the remote said 429), then succeeds; it has one try only."""
    n = int(await ctx["redis"].incr(f"test:slows_down:{ctx['job_id']}"))
    await record(ctx, "slows_down", n)
    if n <= times:
        raise SlowDown(retry_after=0.2, reason="429 Too Many Requests")
    return n


@job(queue="limited", unique=Unique.while_active(key=lambda product_id, *_: product_id))
async def sync_product(ctx: JobContext, product_id: int, note: str = "") -> str:
    await record(ctx, "sync_product", product_id, note)
    return note


@job(queue="limited", unique=Unique.throttle(1.0))
async def alert(ctx: JobContext, queue: str) -> str:
    await record(ctx, "alert", queue)
    return queue


@job(queue="limited", unique=Unique.debounce(0.4, key=lambda product_id, *_: product_id))
async def reindex(ctx: JobContext, product_id: int, version: int) -> int:
    await record(ctx, "reindex", product_id, version)
    return version


LIMITED: list[Any] = [rate_limited, on_limited_queue, send_to, capped, slows_down, sync_product, alert, reindex]
QUEUES = ["limited", "qlimited", "keyed", "capped"]
QUEUE_LIMITS = {"qlimited": QueueLimits(rate=RateLimit(RATE_N, per=RATE_WINDOW_S))}

WorkerSettings = worker_settings(jobs=LIMITED, queues=QUEUES, concurrency=4, poll_delay_s=0.01, limits=QUEUE_LIMITS)
