"""Reading the numbers condition schedules watch, from what the Lua scripts already keep (no scans).

* waiting: the queue's exact ``waiting`` counter (include/state.lua);
* oldest waiting age: jobs of a priority band are in FIFO order by sequence, so the first waiting job of each band
  is the oldest of its band (running jobs keep their place at the front, so a few are read per band and those
  not waiting skipped); the oldest of those enqueue times is the queue's oldest waiting job;
* failed in the last window: the queue's failed index is scored by finish time, so it is one ZCOUNT;
* workers alive: asked of a :class:`WorkerPresence`; by default the heartbeats every ``queue-system worker``
  writes (heartbeat.py). arq's own health-check key cannot serve: it is written once an hour, for one queue, so it
  cannot tell a dead worker from a live one. Workers started with arq's own command write no heartbeat, so a
  deployment running only those must not use a "workers alive" rule (it would always read 0).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from .heartbeat import live_workers, workers_by_queue
from .keys import Keys, queue_key
from .schedule_types import Condition, Metric
from .types import PRIORITY_BAND, JobState, Priority

if TYPE_CHECKING:
    from redis.asyncio import Redis

FRONT_READ = 20  # jobs read from the front of each priority band (running ones are skipped)


class WorkerPresence(Protocol):
    """How many live workers serve a queue; ``None`` when that cannot be known."""

    async def alive(self, queue: str) -> int | None: ...

    def unavailable_reason(self) -> str | None:
        """Why ``alive`` cannot answer, or ``None`` when it can."""
        ...


class HeartbeatPresence:
    """Live workers per queue, from the workers' heartbeats (one Redis read per condition check)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def alive(self, queue: str) -> int | None:
        return workers_by_queue(await live_workers(self.redis, self.keys)).get(queue, 0)

    def unavailable_reason(self) -> str | None:
        return None


def default_presence(redis: Redis, keys: Keys) -> WorkerPresence:
    """The source of "workers alive" the scheduler and CLI use."""
    return HeartbeatPresence(redis, keys)


class QueueReadings:
    def __init__(self, redis: Redis, keys: Keys, presence: WorkerPresence | None = None) -> None:
        self.redis = redis
        self.keys = keys
        self.presence: WorkerPresence = presence or default_presence(redis, keys)

    async def read(self, condition: Condition, now_ms: int | None = None) -> float | None:
        """The condition's current value, or ``None`` when it cannot be known."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        queue = condition.queue
        if condition.metric is Metric.WAITING:
            raw = await self.redis.hget(self.keys.counts(queue), JobState.WAITING.value)  # type: ignore[misc]
            return float(int(raw or 0))
        if condition.metric is Metric.FAILED:
            since = now_ms - int(condition.window_s * 1000)
            return float(await self.redis.zcount(self.keys.index(queue, JobState.FAILED.value), since, "+inf"))
        if condition.metric is Metric.OLDEST_WAITING_S:
            return await self.oldest_waiting_s(queue, now_ms)
        alive = await self.presence.alive(queue)
        return None if alive is None else float(alive)

    def unavailable_reason(self, condition: Condition) -> str | None:
        return self.presence.unavailable_reason() if condition.metric is Metric.WORKERS else None

    async def oldest_waiting_s(self, queue: str, now_ms: int) -> float:
        async with self.redis.pipeline(transaction=False) as pipe:
            for priority in Priority:
                low = int(priority) * PRIORITY_BAND
                pipe.zrangebyscore(queue_key(queue), low, low + PRIORITY_BAND - 1, start=0, num=FRONT_READ)
            fronts = await pipe.execute()
        ids = [job_id.decode() for front in fronts for job_id in front]
        if not ids:
            return 0.0
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(self.keys.meta(job_id), ["s", "et"])
            records = await pipe.execute()
        times = [int(et) for state, et in records if state == b"waiting" and et]
        return max(0.0, (now_ms - min(times)) / 1000) if times else 0.0
