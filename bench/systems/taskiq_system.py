"""taskiq with taskiq-redis's ``RedisStreamBroker`` (acknowledged delivery), run by ``taskiq worker`` with one
worker process. taskiq has no bulk call: ``bulk`` gathers 1000 ``kiq`` calls at a time."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import common
from taskiq.__main__ import main as taskiq_command
from taskiq_redis import RedisStreamBroker

broker = RedisStreamBroker(url=common.redis_url(), queue_name="bench")


# Explicit task names: taskiq's default name includes the module, which is "__main__" in the producer.
@broker.task(task_name=common.JOB_NOOP)
async def noop(i: int, sent: float) -> None:
    await common.run_job(common.JOB_NOOP, i, sent)


@broker.task(task_name=common.JOB_SLEEP)
async def sleep_10ms(i: int, sent: float) -> None:
    await common.run_job(common.JOB_SLEEP, i, sent)


TASKS = {common.JOB_NOOP: noop, common.JOB_SLEEP: sleep_10ms}


class Taskiq(common.Adapter):
    packages = ("taskiq", "taskiq-redis", "redis", "hiredis")
    bulk_method = "asyncio.gather of 1000 kiq calls (no bulk API)"

    async def connect(self) -> None:
        await broker.startup()

    async def enqueue(self, job: str, i: int, sent: float) -> None:
        await TASKS[job].kiq(i, sent)

    async def enqueue_bulk(self, job: str, items: Sequence[common.Item]) -> None:
        await common.enqueue_concurrently(self, job, items)

    async def close(self) -> None:
        await broker.shutdown()

    def run_worker(self, concurrency: int, poll_delay: float | None) -> None:
        sys.argv = ["taskiq", "worker", "taskiq_system:broker", "--workers", "1", "--max-async-tasks", str(concurrency)]
        taskiq_command()


if __name__ == "__main__":
    common.main(Taskiq())
