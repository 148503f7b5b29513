"""The batch store: reading, cancelling and pruning batches (their records are kept by lua/include/batch.lua).

A batch's counts are written only by Lua, in the same atomic step that records a member job's outcome, so what
this module reads is exact. Writing a batch's jobs is :mod:`queue_system.batches`' part (it needs the client to
encode payloads); both go through the scripts registered here.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .errors import BatchNotFound
from .keys import Keys
from .scripts import ScriptArgs, script_source
from .serialization import loads

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

PRUNE_BUDGET = 500  # batches deleted per script call
BATCH_TAG = "batch"  # a member job's tag: batch=<batch id> (lua/include/batch.lua finds its batch by it)
CALLBACK_TAG = "batch_callback"  # a callback job's tag: batch_callback=<batch id>


class BatchStatus(StrEnum):
    RUNNING = "running"  # jobs pending
    COMPLETED = "completed"  # every job succeeded (or ended, with failures allowed)
    FAILED = "failed"  # every job ended, some failed (failures not allowed) or were aborted
    CANCELLED = "cancelled"  # cancelled: its queued jobs were removed (finished once ``finished_ms`` is set)


@dataclass(frozen=True)
class BatchProgress:
    """How far a batch is: ``percentage`` is the share of its jobs that ended, either way (0-100)."""

    total: int
    pending: int
    completed: int
    failed: int
    cancelled: int

    @property
    def percentage(self) -> float:
        if self.total == 0:
            return 100.0
        return round(100.0 * (self.total - self.pending) / self.total, 2)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "percentage": self.percentage}


@dataclass(frozen=True)
class BatchInfo:
    """One batch as the read API shows it. Times are epoch ms (0 = not yet)."""

    batch_id: str
    name: str
    status: BatchStatus
    progress: BatchProgress
    allow_failures: bool
    created_ms: int
    finished_ms: int
    cancelled_ms: int
    run: int  # 1, plus one per re-opening by a retry of its failed jobs
    tags: dict[str, str] = field(default_factory=dict)
    callbacks: dict[str, str] = field(default_factory=dict)  # then / catch / finally -> function name
    fired: tuple[str, ...] = ()  # the callbacks enqueued so far (then, catch)

    @property
    def finished(self) -> bool:
        return self.finished_ms > 0

    @classmethod
    def from_hash(cls, batch_id: str, raw: dict[bytes, bytes]) -> BatchInfo:
        text = {k.decode(): v.decode() for k, v in raw.items()}

        def number(name: str) -> int:
            return int(text.get(name) or 0)

        callbacks = {which: str(loads(text[which])[7]) for which in ("then", "catch", "finally") if text.get(which)}
        return cls(
            batch_id=batch_id,
            name=text.get("name", ""),
            status=BatchStatus(text["status"]),
            progress=BatchProgress(*(number(n) for n in ("total", "pending", "completed", "failed", "cancelled"))),
            allow_failures=text.get("allow_failures") == "1",
            created_ms=number("created_ms"),
            finished_ms=number("finished_ms"),
            cancelled_ms=number("cancelled_ms"),
            run=number("run") or 1,
            tags=dict(loads(text.get("tags") or "{}")),
            callbacks=callbacks,
            fired=tuple(w for w in ("then", "catch") if text.get(f"{w}_fired") == "1"),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(status=self.status.value, progress=self.progress.to_dict(), finished=self.finished)
        return data


@dataclass(frozen=True)
class BatchPage:
    total: int
    batches: list[BatchInfo]


class BatchStore:
    """Batches under one key prefix."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self.add_script: AsyncScript = redis.register_script(script_source("batch_add"))
        self.cancel_script: AsyncScript = redis.register_script(script_source("batch_cancel"))
        self.prune_script: AsyncScript = redis.register_script(script_source("batch_prune"))

    async def get(self, batch_id: str) -> BatchInfo:
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.batch(batch_id))  # type: ignore[misc]
        if not raw:
            raise BatchNotFound(f"no batch with id {batch_id!r}")
        return BatchInfo.from_hash(batch_id, raw)

    async def list(self, *, offset: int = 0, limit: int = 50) -> BatchPage:
        """Newest first."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(self.keys.batches, offset, offset + limit - 1)
            pipe.zcard(self.keys.batches)
            raw_ids, total = await pipe.execute()
        ids = [i.decode() for i in raw_ids]
        async with self.redis.pipeline(transaction=False) as pipe:
            for batch_id in ids:
                pipe.hgetall(self.keys.batch(batch_id))
            hashes = await pipe.execute()
        batches = [BatchInfo.from_hash(i, h) for i, h in zip(ids, hashes, strict=True) if h]
        return BatchPage(int(total), batches)

    async def job_ids(self, batch_id: str, outcome: str | None = None) -> dict[str, str]:
        """The batch's jobs: id -> pending / completed / failed / cancelled (only ``outcome`` when given)."""
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.batch_jobs(batch_id))  # type: ignore[misc]
        jobs = {k.decode(): v.decode() for k, v in raw.items()}
        return {k: v for k, v in jobs.items() if outcome is None or v == outcome}

    async def cancel(self, batch_id: str, *, now_ms: int, events_maxlen: int, result_ttl_ms: int) -> int:
        """Cancel a running batch (lua/batch_cancel.lua); returns how many queued jobs were removed.

        Cancelling a batch that already finished or was cancelled changes nothing and returns 0.
        """
        args: ScriptArgs = [self.keys.prefix, now_ms, events_maxlen, batch_id, result_ttl_ms]
        outcome, value = await self.cancel_script(keys=[], args=args, client=self.redis)
        if outcome == b"not_found":
            raise BatchNotFound(f"no batch with id {batch_id!r}")
        return int(value) if outcome == b"cancelled" else 0

    async def prune(self, older_than_s: float) -> int:
        """Delete batches that finished more than ``older_than_s`` seconds ago; returns how many."""
        cutoff = int((time.time() - older_than_s) * 1000)
        removed = 0
        while True:
            args: ScriptArgs = [self.keys.prefix, cutoff, PRUNE_BUDGET]
            count = int(await self.prune_script(keys=[], args=args, client=self.redis))
            removed += count
            if count < PRUNE_BUDGET:
                return removed
