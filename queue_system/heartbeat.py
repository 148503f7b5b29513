"""Worker heartbeats: what each live worker reports about itself, for ``queue-system workers``, health checks,
the supervisor and the metrics.

Every worker writes its record (JSON) to ``{prefix}:worker:{id}`` about once a second with a time to live of
``HEARTBEAT_TTL_S`` and scores its id in ``{prefix}:workers`` by the beat's time. A worker that exits cleanly
removes both; a killed one disappears when its key expires, and readers drop ids whose beat is older than the
TTL, so the listing never needs SCAN and never shows the dead for long.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import orjson

from .keys import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis

HEARTBEAT_TTL_S = 10.0


@dataclass(frozen=True)
class WorkerInfo:
    """One worker's last heartbeat. Times are epoch milliseconds; ``rss_bytes`` is its resident memory."""

    id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    concurrency: int
    started_at_ms: int
    last_beat_ms: int
    jobs_done: int = 0
    jobs_failed: int = 0
    jobs_retried: int = 0
    current_jobs: tuple[str, ...] = ()
    rss_bytes: int = 0
    state: str = "running"  # "stopping" once it finishes its running jobs to exit
    metrics_port: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["queues"] = list(self.queues)
        data["current_jobs"] = list(self.current_jobs)
        return data

    @classmethod
    def from_json(cls, raw: bytes) -> WorkerInfo | None:
        """A record written by any version of this module; None when it is not one (never raises)."""
        try:
            data = orjson.loads(raw)
            data["queues"] = tuple(data.get("queues") or ())
            data["current_jobs"] = tuple(data.get("current_jobs") or ())
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        except (orjson.JSONDecodeError, TypeError, AttributeError):
            return None


async def beat(redis: Redis, keys: Keys, info: WorkerInfo, ttl_s: float = HEARTBEAT_TTL_S) -> None:
    """Write one heartbeat and drop ids whose beat is older than the TTL (killed workers)."""
    cutoff = info.last_beat_ms - int(ttl_s * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.worker(info.id), orjson.dumps(info.to_dict()), px=int(ttl_s * 1000))
        pipe.zadd(keys.workers, {info.id: info.last_beat_ms})
        pipe.zremrangebyscore(keys.workers, "-inf", cutoff)
        await pipe.execute()


async def forget(redis: Redis, keys: Keys, worker_id: str) -> None:
    """A worker that exits removes its heartbeat at once, so health checks see it gone."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.delete(keys.worker(worker_id))
        pipe.zrem(keys.workers, worker_id)
        await pipe.execute()


async def live_workers(redis: Redis, keys: Keys, ttl_s: float = HEARTBEAT_TTL_S) -> list[WorkerInfo]:
    """Every worker whose heartbeat is still alive, oldest start first."""
    cutoff = int(time.time() * 1000) - int(ttl_s * 1000)
    ids = await redis.zrangebyscore(keys.workers, cutoff, "+inf")
    if not ids:
        return []
    raws = await redis.mget([keys.worker(i.decode()) for i in ids])
    infos = [WorkerInfo.from_json(raw) for raw in raws if raw]
    return sorted((i for i in infos if i is not None), key=lambda i: (i.started_at_ms, i.id))


def workers_by_queue(workers: list[WorkerInfo]) -> dict[str, int]:
    """How many live workers serve each queue."""
    counts: dict[str, int] = {}
    for info in workers:
        for queue in info.queues:
            counts[queue] = counts.get(queue, 0) + 1
    return counts
