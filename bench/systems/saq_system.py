"""SAQ with its Redis queue, run by the ``saq`` command. SAQ has no bulk call: ``bulk`` gathers 1000
``queue.enqueue`` calls at a time (what its own ``queue.map`` does before it waits for the results)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
from saq import Queue
from saq.__main__ import main as saq_command

QUEUE_NAME = "bench"


async def noop(ctx: dict[str, Any], *, i: int, sent: float) -> None:
    await common.run_job(common.JOB_NOOP, i, sent)


async def sleep_10ms(ctx: dict[str, Any], *, i: int, sent: float) -> None:
    await common.run_job(common.JOB_SLEEP, i, sent)


def settings() -> dict[str, Any]:
    """The ``saq`` command's settings (a callable, so the queue is built in the worker's own process)."""
    return {
        "queue": Queue.from_url(common.redis_url(), name=QUEUE_NAME),
        "functions": [noop, sleep_10ms],
        "concurrency": common.concurrency(),
    }


class Saq(common.Adapter):
    packages = ("saq", "redis", "hiredis")
    bulk_method = "asyncio.gather of 1000 queue.enqueue calls (no bulk API)"

    async def connect(self) -> None:
        self.queue = Queue.from_url(common.redis_url(), name=QUEUE_NAME)
        await self.queue.connect()

    async def enqueue(self, job: str, i: int, sent: float) -> None:
        await self.queue.enqueue(job, i=i, sent=sent)

    async def enqueue_bulk(self, job: str, items: Sequence[common.Item]) -> None:
        await common.enqueue_concurrently(self, job, items)

    async def close(self) -> None:
        await self.queue.disconnect()

    def run_worker(self, concurrency: int, poll_delay: float | None) -> None:
        sys.argv = ["saq", "saq_system.settings"]
        saq_command()


if __name__ == "__main__":
    common.main(Saq())
