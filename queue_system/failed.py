"""The failed-job store: every job that used up its tries (or failed permanently) with everything needed to
understand and replay it (Laravel's ``failed_jobs``, Sidekiq's dead set).

Layout: ``{prefix}:failed`` is a sorted set of job ids by failure time; each entry is a JSON string at
``{prefix}:failed:job:{id}``; secondary sorted sets index entries by queue, function and tag so that listing
with a filter reads an index instead of scanning. Entries are capped by count and age.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import JobNotFound
from .keys import Keys
from .serialization import dumps, loads

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass
class FailedJob:
    """One failed job. ``payload`` is the encoded job as it was queued (encrypted for sensitive functions)."""

    job_id: str
    function: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]
    payload: str
    exc_type: str
    message: str
    traceback: str
    tries: int
    failed_at_ms: int
    enqueued_at_ms: int = 0
    started_at_ms: int = 0
    priority: int = 2
    tags: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailedJob:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class FailedFilter:
    """Narrow a listing or bulk action; each given field must match."""

    queue: str | None = None
    function: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    def index_keys(self, keys: Keys) -> list[str]:
        chosen = []
        if self.queue:
            chosen.append(keys.failed_by_queue(self.queue))
        if self.function:
            chosen.append(keys.failed_by_function(self.function))
        chosen.extend(keys.failed_by_tag(k, v) for k, v in sorted(self.tags.items()))
        return chosen or [keys.failed]


@dataclass(frozen=True)
class FailedPage:
    total: int
    entries: list[FailedJob]


class FailedStore:
    """Reads and writes the failed-job store; re-enqueueing is the client's job (see ``Client.retry_failed``)."""

    def __init__(self, redis: Redis, keys: Keys, *, max_entries: int, max_age_s: int) -> None:
        self.redis = redis
        self.keys = keys
        self.max_entries = max_entries
        self.max_age_s = max_age_s

    def _index_keys(self, entry: FailedJob) -> list[str]:
        keys = [self.keys.failed, self.keys.failed_by_queue(entry.queue), self.keys.failed_by_function(entry.function)]
        keys.extend(self.keys.failed_by_tag(k, str(v)) for k, v in entry.tags.items())
        return keys

    async def record(self, entry: FailedJob) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.failed_entry(entry.job_id), dumps(entry.to_dict()))
            for key in self._index_keys(entry):
                pipe.zadd(key, {entry.job_id: entry.failed_at_ms})
            pipe.zcard(self.keys.failed)
            *_, size = await pipe.execute()
        if size > self.max_entries:
            await self._trim_count(size - self.max_entries)

    async def get(self, job_id: str) -> FailedJob:
        raw = await self.redis.get(self.keys.failed_entry(job_id))
        if raw is None:
            raise JobNotFound(f"no failed job with id {job_id!r}")
        return FailedJob.from_dict(loads(raw))

    async def ids(self, flt: FailedFilter | None = None) -> list[str]:
        ids, _ = await self._page_ids((flt or FailedFilter()).index_keys(self.keys), 0, -1)
        return ids

    async def _page_ids(self, index_keys: Sequence[str], offset: int, limit: int) -> tuple[list[str], int]:
        if len(index_keys) == 1:
            key = index_keys[0]
            stop = -1 if limit < 0 else offset + limit - 1
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrevrange(key, offset, stop)
                pipe.zcard(key)
                raw_ids, total = await pipe.execute()
            return [i.decode() for i in raw_ids], int(total)
        command: Any = self.redis.execute_command
        members = await command("ZINTER", len(index_keys), *index_keys, "WITHSCORES")
        pairs = sorted(zip(members[::2], members[1::2], strict=True), key=lambda p: float(p[1]), reverse=True)
        end = None if limit < 0 else offset + limit
        return [m.decode() for m, _ in pairs[offset:end]], len(pairs)

    async def _load(self, ids: Sequence[str]) -> list[FailedJob]:
        if not ids:
            return []
        raws = await self.redis.mget([self.keys.failed_entry(i) for i in ids])
        return [FailedJob.from_dict(loads(raw)) for raw in raws if raw is not None]

    async def forget(self, job_ids: Iterable[str]) -> int:
        """Remove entries (and their index entries); returns how many existed."""
        entries = await self._load(list(job_ids))
        if not entries:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                pipe.delete(self.keys.failed_entry(entry.job_id))
                for key in self._index_keys(entry):
                    pipe.zrem(key, entry.job_id)
            await pipe.execute()
        return len(entries)

    async def flush(self, flt: FailedFilter | None = None) -> int:
        return await self._forget_in_batches(await self.ids(flt))

    async def prune(self, older_than_s: float) -> int:
        """Forget entries that failed more than ``older_than_s`` seconds ago (Laravel ``queue:prune-failed``)."""
        cutoff = int((time.time() - older_than_s) * 1000)
        raw = await self.redis.zrangebyscore(self.keys.failed, "-inf", cutoff)
        return await self._forget_in_batches([i.decode() for i in raw])

    async def count(self) -> int:
        return int(await self.redis.zcard(self.keys.failed))

    async def _trim_count(self, excess: int) -> None:
        oldest = await self.redis.zrange(self.keys.failed, 0, excess - 1)
        await self._forget_in_batches([i.decode() for i in oldest])
        await self.prune(self.max_age_s)

    async def _forget_in_batches(self, ids: list[str], batch: int = 500) -> int:
        removed = 0
        for start in range(0, len(ids), batch):
            removed += await self.forget(ids[start : start + batch])
        return removed

    async def list(self, flt: FailedFilter | None = None, *, offset: int = 0, limit: int = 50) -> FailedPage:
        """Newest first. With one filter the matching index is paged directly; with several, they are intersected."""
        ids, total = await self._page_ids((flt or FailedFilter()).index_keys(self.keys), offset, limit)
        return FailedPage(total=total, entries=await self._load(ids))
