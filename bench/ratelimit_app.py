"""The rate-limit benchmark's jobs (bench/ratelimit.py): one limited to BENCH_RATE starts per second, one with no
limit, and one whose limits never bind (a rate of 10^9/s and a cap of 10^6), to price the limiter itself.

Each job appends ``<name> <start time>`` to ``bench:starts``: one RPUSH per job, the same for all three."""

from __future__ import annotations

import os
import time

from queue_system import JobContext, RateLimit, job, worker_settings

RATE = int(os.environ.get("BENCH_RATE", "10"))


async def _record(ctx: JobContext, name: str) -> None:
    await ctx["redis"].rpush("bench:starts", f"{name} {time.time():.6f}")


@job(queue="limited", rate_limit=RateLimit(RATE, per=1.0))
async def limited(ctx: JobContext, i: int) -> None:
    await _record(ctx, "limited")


@job(queue="free")
async def unlimited(ctx: JobContext, i: int) -> None:
    await _record(ctx, "unlimited")


@job(queue="loose", rate_limit=RateLimit(10**9, per=1.0), concurrency=10**6)
async def not_binding(ctx: JobContext, i: int) -> None:
    await _record(ctx, "not_binding")


WorkerSettings = worker_settings(jobs=[limited, unlimited, not_binding], queues=["limited", "free", "loose"])
