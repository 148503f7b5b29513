#!/usr/bin/env python
"""The shared rate limiter's cost (queue_system/throttle.py): script calls per second from one process.

    .venv/bin/python bench/throttle.py               # 5 000 calls each way, a private redis-server
    .venv/bin/python bench/throttle.py --calls 20000

Two scopes: one with no rate (``Rate(scope, 0)``: only its pause is read, what an unlimited host's request
would cost if it asked every time) and one whose rate never binds (10^9/s: the sliding log is trimmed, counted and
appended to on every call). Each is timed one call after another (the latency a request pays) and from 40
concurrent tasks (what one process can push through). This prices the limiter, not its accuracy:
tests/test_throttle.py checks the windows exactly, across processes.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from queue_system import Rate, SharedRateLimiter  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

TASKS = 40


async def measure(url: str, calls: int) -> None:
    redis = Redis.from_url(url)
    limiter = SharedRateLimiter(redis)
    try:
        for label, rate in (("no rate (pause only)", Rate("bench:a", 0)), ("rate 10^9/s", Rate.per_second("b", 1e9))):
            await limiter.acquire_all([rate])  # loads the script
            started = time.perf_counter()
            for _ in range(calls):
                await limiter.acquire_all([rate])
            sequential = time.perf_counter() - started

            async def task(rate: Rate = rate) -> None:
                for _ in range(calls // TASKS):
                    await limiter.acquire_all([rate])

            started = time.perf_counter()
            await asyncio.gather(*(task() for _ in range(TASKS)))
            concurrent = time.perf_counter() - started
            print(
                f"{label:22} one by one: {sequential / calls * 1e6:5.0f} us/call ({calls / sequential:6.0f}/s)"
                f"   {TASKS} tasks: {calls // TASKS * TASKS / concurrent:6.0f}/s"
            )
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    with RedisServer() as server:
        asyncio.run(measure(server.url, args.calls))


if __name__ == "__main__":
    main()
