"""Plain arq 0.28 with its defaults (pickle, ``poll_delay`` 0.5 s), run by the ``arq`` command.

``--poll-delay 0.01`` gives the "arq-fast" variant. arq has no bulk enqueue.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import common
from arq import create_pool
from arq.cli import cli as arq_command
from arq.connections import ArqRedis, RedisSettings


async def noop(ctx: dict[str, Any], i: int, sent: float) -> None:
    await common.run_job(common.JOB_NOOP, i, sent)


async def sleep_10ms(ctx: dict[str, Any], i: int, sent: float) -> None:
    await common.run_job(common.JOB_SLEEP, i, sent)


class WorkerSettings:
    functions = [noop, sleep_10ms]
    redis_settings = RedisSettings.from_dsn(common.redis_url())
    max_jobs = common.concurrency()


if "BENCH_POLL_DELAY" in os.environ:  # only when asked, so the default run keeps arq's own default
    WorkerSettings.poll_delay = float(os.environ["BENCH_POLL_DELAY"])  # type: ignore[attr-defined]


class Arq(common.Adapter):
    packages = ("arq", "redis", "hiredis")
    supports_poll_delay = True

    async def connect(self) -> None:
        self.pool: ArqRedis = await create_pool(RedisSettings.from_dsn(common.redis_url()))

    async def enqueue(self, job: str, i: int, sent: float) -> None:
        await self.pool.enqueue_job(job, i, sent)

    async def close(self) -> None:
        await self.pool.aclose()

    def run_worker(self, concurrency: int, poll_delay: float | None) -> None:
        if poll_delay is not None:
            os.environ["BENCH_POLL_DELAY"] = str(poll_delay)
        sys.argv = ["arq", "arq_system.WorkerSettings"]
        arq_command()


if __name__ == "__main__":
    common.main(Arq())
