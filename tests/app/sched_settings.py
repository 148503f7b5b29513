"""WorkerSettings for the scheduling tests: the test app plus a one-second cron and a start-up recovery hook.

The recovery hook stands in for an application's reconciliation (the WhatsApp blasts): the app's own store is a
Redis hash here (``test:app:blasts``, blast id -> due ms, as a database table would hold them); blasts whose time
passed are enqueued under their own ids, so a second run (a later start) finds them there already.
"""

from __future__ import annotations

import time

from queue_system import JobContext, RecoveryHook, cron, job, worker_settings

from .jobs import ALL, echo, record

APP_BLASTS = "test:app:blasts"


@job(queue="alpha")
async def tick(ctx: JobContext) -> None:
    await record(ctx, "tick")


async def resend_missed_blasts(ctx: JobContext) -> int:
    await record({**ctx, "job_try": 0, "job_id": "recovery"}, "recovery")
    blasts = await ctx["redis"].hgetall(APP_BLASTS)
    now_ms = int(time.time() * 1000)
    overdue = [blast.decode() for blast, due in blasts.items() if int(due) <= now_ms]
    for blast in overdue:
        await echo.options(job_id=f"blast:{blast}").enqueue(f"blast {blast}")
    return len(overdue)


WorkerSettings = worker_settings(
    jobs=[*ALL, tick],
    queues=["alpha", "beta"],
    concurrency=4,
    poll_delay_s=0.01,
    cron_jobs=[cron(tick, "* * * * * *")],
    recovery=[RecoveryHook("missed-blasts", resend_missed_blasts, window_s=30)],
)
