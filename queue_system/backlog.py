"""How long the oldest waiting job of a queue has waited: what the supervisor scales on and metrics export.

Waiting jobs sit in their queue's priority bands (priority * 1e11 + seq), FIFO within a band, with active
(leased) jobs among them at the front. So the oldest waiting job is the first waiting one of some band: one
bounded lua/list.lua scan per band finds each band's first, and their records' enqueue times give the oldest.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .keys import Keys, queue_key
from .scripts import ScriptArgs, Scripts
from .types import PRIORITY_BAND, JobState, Priority

if TYPE_CHECKING:
    from redis.asyncio import Redis

SCAN_BUDGET = 10_000  # entries skipped at most per band (active jobs at its front are as many as worker slots)


async def oldest_waiting_age_s(redis: Redis, scripts: Scripts, keys: Keys, queue: str) -> float:
    """Seconds since the oldest waiting job of ``queue`` was enqueued (0 when none waits)."""
    firsts: list[str] = []
    for priority in Priority:
        low = int(priority) * PRIORITY_BAND
        args: ScriptArgs = [
            keys.prefix, f"({low + PRIORITY_BAND}", str(low), JobState.WAITING.value, "", "", 0, 1, SCAN_BUDGET, "asc",
        ]  # fmt: skip
        ids, _more = await scripts.list(keys=[queue_key(queue)], args=args, client=redis)
        firsts += [i.decode() for i in ids]
    if not firsts:
        return 0.0
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in firsts:
            pipe.hget(keys.meta(job_id), "et")
        enqueued = [int(raw) for raw in await pipe.execute() if raw]
    if not enqueued:
        return 0.0
    return max(0.0, time.time() - min(enqueued) / 1000)
