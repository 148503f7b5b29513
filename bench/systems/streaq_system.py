"""streaQ (Redis streams, coredis), run by the ``streaq run`` command; bulk is ``worker.enqueue_many``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import common
from streaq import Worker
from streaq.cli import cli as streaq_command

worker: Worker[Any] = Worker(redis_url=common.redis_url(), queue_name="bench", concurrency=common.concurrency())


@worker.task(name=common.JOB_NOOP)
async def noop(i: int, sent: float) -> None:
    await common.run_job(common.JOB_NOOP, i, sent)


@worker.task(name=common.JOB_SLEEP)
async def sleep_10ms(i: int, sent: float) -> None:
    await common.run_job(common.JOB_SLEEP, i, sent)


TASKS = {common.JOB_NOOP: noop, common.JOB_SLEEP: sleep_10ms}


class Streaq(common.Adapter):
    packages = ("streaq", "coredis", "anyio")
    bulk_method = "worker.enqueue_many, 1000 jobs per call"

    async def connect(self) -> None:
        self.stack = AsyncExitStack()
        await self.stack.enter_async_context(worker)

    async def enqueue(self, job: str, i: int, sent: float) -> None:
        await TASKS[job].enqueue(i, sent)

    async def enqueue_bulk(self, job: str, items: Sequence[common.Item]) -> None:
        await worker.enqueue_many([TASKS[job].enqueue(i, sent) for i, sent in items])

    async def close(self) -> None:
        await self.stack.aclose()

    def run_worker(self, concurrency: int, poll_delay: float | None) -> None:
        sys.argv = ["streaq", "run", "streaq_system:worker"]
        streaq_command()


if __name__ == "__main__":
    common.main(Streaq())
