"""One process of the shared rate limiter's cross-process test (tests/test_throttle.py): ``tasks`` concurrent
clients acquire starts under one scope until ``seconds`` have passed, then print the Redis times (ms) of the
starts they were granted, as a JSON list.

    python -m tests.app.throttle_clients REDIS_URL SCOPE LIMIT WINDOW_S TASKS SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from redis.asyncio import Redis

from queue_system import SharedRateLimiter


async def main(url: str, scope: str, limit: int, window_s: float, tasks: int, seconds: float) -> list[int]:
    redis = Redis.from_url(url)
    limiter = SharedRateLimiter(redis, prefix="qs")
    granted: list[int] = []
    until = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < until:
            granted.append((await limiter.acquire(scope, limit, window_s)).at_ms)

    try:
        await asyncio.gather(*(client() for _ in range(tasks)))
    finally:
        await redis.aclose()
    return granted


if __name__ == "__main__":
    url, scope, limit, window, tasks, seconds = sys.argv[1:7]
    print(json.dumps(asyncio.run(main(url, scope, int(limit), float(window), int(tasks), float(seconds)))))
