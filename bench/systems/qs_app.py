"""The benchmark's jobs for queue-system, declared as an application would (default policy: 3 tries, backoff,
timeout, the failed store and the default middleware all on)."""

from __future__ import annotations

import common

from queue_system import JobContext, job, worker_settings


@job(queue="bench", name=common.JOB_NOOP)
async def noop(ctx: JobContext, i: int, sent: float) -> None:
    await common.run_job(common.JOB_NOOP, i, sent)


@job(queue="bench", name=common.JOB_SLEEP)
async def sleep_10ms(ctx: JobContext, i: int, sent: float) -> None:
    await common.run_job(common.JOB_SLEEP, i, sent)


JOBS = {handle.name: handle for handle in (noop, sleep_10ms)}

WorkerSettings = worker_settings(jobs=list(JOBS.values()), queues=["bench"], concurrency=100)
