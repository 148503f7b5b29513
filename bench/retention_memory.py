#!/usr/bin/env python
"""Memory stays bounded under the default retention (issue 4, point 5): a queue runs many no-op jobs in rounds,
and after each round Redis' used memory is printed. With retention working the line is flat once the retained
records (default: the last 1 000 completed per queue, plus the capped event stream) are full; a leak grows it by
~700 B per job per round.

    .venv/bin/python bench/retention_memory.py                  # 1 000 000 jobs in 10 rounds
    .venv/bin/python bench/retention_memory.py --jobs 200000 --rounds 4

Memory does not depend on the machine's load, only the time does, so this one is meaningful on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from queue_system import Client, JobRequest, QueueConfig  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

APP = """
from queue_system import JobContext, job, worker_settings


@job(queue="bench")
async def noop(ctx: JobContext, i: int) -> None:
    return None


WorkerSettings = worker_settings(jobs=[noop], queues=["bench"], concurrency=100)
"""


async def enqueue(client: Client, start: int, count: int) -> None:
    for first in range(start, start + count, 1000):
        last = min(start + count, first + 1000)
        await client.enqueue_many([JobRequest("noop", (i,), queue="bench") for i in range(first, last)])


async def used_memory(client: Client) -> int:
    info = await client.redis.info("memory")
    return int(info["used_memory"])


async def main(jobs: int, rounds: int) -> None:
    per_round = jobs // rounds
    with tempfile.TemporaryDirectory() as tmp, RedisServer() as redis:
        app = Path(tmp) / "rm_app.py"
        app.write_text(APP)
        env = {"REDIS_URL": redis.url, "QS_ENV": "production", "QS_LOG_LEVEL": "WARNING", "PYTHONPATH": f"{ROOT}:{tmp}"}
        config = QueueConfig.from_env(env)
        async with await Client.connect(config) as client:
            print(f"{'jobs run':>10} {'used_memory':>14} {'records kept':>13} {'s':>6}")
            baseline = await used_memory(client)
            print(f"{0:>10} {baseline:>14,} {0:>13} {0:>6}")
            for r in range(rounds):
                started = time.monotonic()
                await enqueue(client, r * per_round, per_round)
                command = [sys.executable, "-m", "queue_system.cli", "worker", "rm_app.WorkerSettings", "--burst"]
                subprocess.run(command, cwd=tmp, env=env, check=True)
                counts = await client.redis.hgetall(client.keys.counts("bench"))
                completed = int(counts.get(b"completed", 0))
                memory = await used_memory(client)
                print(f"{(r + 1) * per_round:>10,} {memory:>14,} {completed:>13,} {time.monotonic() - started:>6.0f}")
            print(f"growth after the first round: {(memory - baseline) / 1024:.0f} KiB for {jobs:,} jobs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.rounds))
