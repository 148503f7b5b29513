"""The README's example: declare a job, run a worker for it, enqueue it and read the result.

.venv/bin/queue-system worker examples.hello.WorkerSettings     # terminal 1
.venv/bin/python -m examples.hello Ada                          # terminal 2: prints "Hello, Ada!"
"""

from __future__ import annotations

import asyncio
import sys

from queue_system import Exponential, JobContext, job, worker_settings


@job(queue="greetings", max_tries=3, backoff=Exponential(2), timeout=10)
async def greet(ctx: JobContext, name: str) -> str:
    return f"Hello, {name}!"


WorkerSettings = worker_settings(jobs=[greet])


async def main(name: str) -> None:
    job = await greet.enqueue(name)  # typed by greet's signature; REDIS_URL picks the Redis
    print(await job.result(timeout=10))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "world"))
