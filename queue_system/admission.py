"""The Redis side of limits (limits.py): publishing them, admitting jobs, giving slots back, counting postponements.

Where each check runs, so that a limited job never holds a worker slot and the unlimited path pays nothing:

* our engine admits jobs inside lua/claim.lua, before it leases them: a job over a rate limit is re-scored to
  when its window frees and never reaches a worker; a job over a cap stays queued in its place. Only a job whose
  keyed rate limit has no key yet (enqueued by name, or by plain arq, so nobody computed the key from its
  arguments) is admitted by the worker's middleware (lua/admit.lua), holding its slot for that one round trip;
* under arq's own Worker, which runs no claim script of ours, the middleware admits every limited job; a refused
  job goes back with its try given back (lua/postpone.lua), like a job of a paused queue;
* with no limits declared the claim script pays one EXISTS per call and the middleware is not installed at all.

The algorithms (sliding-log rate limit, lease-scored cap slots) are in lua/include/limits.lua.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from .keys import Keys
from .limits import QueueLimits, RateLimit
from .scripts import ScriptArgs, Scripts
from .serialization import dumps
from .spec import JobSpec


def _limit_json(rate: RateLimit | None, cap: int | None) -> bytes:
    entry: dict[str, Any] = {}
    if rate is not None:
        entry.update(n=rate.limit, w=rate.window_ms)
        if rate.key is not None:
            entry["k"] = True
    if cap is not None:
        entry["c"] = cap
    return dumps(entry)


def limit_fields(specs: Iterable[JobSpec], queue_limits: Mapping[str, QueueLimits]) -> dict[str, bytes]:
    """The {prefix}:limits entries for these declarations (see lua/include/limits.lua)."""
    fields = {f"q:{queue}": _limit_json(lim.rate, lim.concurrency) for queue, lim in queue_limits.items()}
    for spec in specs:
        if spec.limited:
            fields[f"f:{spec.name}"] = _limit_json(spec.rate_limit, spec.concurrency)
    return fields


class Admission:
    """A worker's limits: which jobs need admitting, and the script calls that admit, release and postpone."""

    def __init__(
        self,
        redis: Any,
        scripts: Scripts,
        keys: Keys,
        specs: Iterable[JobSpec],
        queue_limits: Mapping[str, QueueLimits] | None = None,
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.keys = keys
        self.specs = list(specs)
        self.queue_limits = dict(queue_limits or {})

    @property
    def any(self) -> bool:
        """Whether anything is limited at all (else the middleware is left out of the chain)."""
        return bool(self.queue_limits) or any(spec.limited for spec in self.specs)

    def applies(self, spec: JobSpec, queue: str) -> bool:
        return spec.limited or queue in self.queue_limits

    async def publish(self, served: Iterable[str]) -> None:
        """Write this worker's limits to Redis, and drop limits its functions and queues no longer declare.

        Every worker of a queue should declare the same limits: the one that started last wins.
        """
        fields = limit_fields(self.specs, self.queue_limits)
        stale = [f"f:{s.name}" for s in self.specs if not s.limited]
        stale += [f"q:{q}" for q in served if q not in self.queue_limits]
        async with self.redis.pipeline(transaction=False) as pipe:
            if stale:
                pipe.hdel(self.keys.limits, *stale)
            if fields:
                pipe.hset(self.keys.limits, mapping=fields)
            await pipe.execute()

    async def admit(self, job_id: str, queue: str, spec: JobSpec, limit_key: str, slot_s: float) -> int:
        """0 = admitted; > 0 = ms until a rate window frees; -1 = a cap is full (lua/admit.lua)."""
        args: ScriptArgs = [self.keys.prefix, job_id, queue, spec.name, limit_key, int(slot_s * 1000)]
        return int(await self.scripts.admit(keys=[], args=args, client=self.redis))

    async def release(self, job_id: str, queue: str) -> None:
        """Give a job's cap slots back (arq's own Worker; our engine does it in lua/finish.lua)."""
        await self.scripts.release(keys=[], args=[self.keys.prefix, job_id, queue], client=self.redis)

    async def postpone(self, job_id: str, queue: str, function: str) -> None:
        """Under arq's own Worker: the try is given back and the job recorded as delayed (lua/postpone.lua)."""
        args: ScriptArgs = [self.keys.prefix, int(time.time() * 1000), job_id, queue, function]
        await self.scripts.postpone(keys=[], args=args, client=self.redis)


async def postponed_counts(redis: Any, keys: Keys) -> dict[str, int]:
    """Jobs postponed so far by a limit or a SlowDown, per function (``"*"``: all of them)."""
    raw: dict[bytes, bytes] = await redis.hgetall(keys.postponed)
    return {k.decode(): int(v) for k, v in raw.items()}
