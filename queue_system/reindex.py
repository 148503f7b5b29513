"""Rebuilding the job indexes and counters from the job records (``queue-system reindex``).

Every index and counter of lua/include/state.lua is a function of the job records ``{prefix}:meta:{id}``. A Redis
written by an older version lacks the newer ones (its jobs are missing from the function indexes, and the function
counters go negative as those jobs move), and an operator may need to repair them after a manual ``DEL``, a partial
restore or a bug. The repair works in place, by difference, in three passes, each in batches (SCAN and ZSCAN,
never KEYS; one short script call per batch, lua/reindex.lua, which uses state.lua's own rules):

1. records: every record puts its job into each index it belongs to (missing entries added, wrong scores fixed) and
   its counts are summed in memory -- memory grows with the number of distinct counters (queue, function, tag
   value), not with the number of jobs; a queue with records missing from ``{prefix}:queues`` (the list of queues)
   is added to it;
2. indexes: every member of every index whose record does not put it there is removed;
3. counters: each state field of every counter hash (queue, function, tag; a tag's ``fn:{f}:{state}`` fields) is
   set to the sum; the ``total_*`` fields (outcomes ever recorded) cannot be recomputed and are kept.

Indexes are never rebuilt from empty, so a reader meanwhile sees at worst an entry missing or left over, never an
empty listing. Stop (or pause) the workers and producers while it runs: a job that moves during the repair can be
counted in its old state (its counter off by one until the next run) and, if it moves between pass 1 and pass 2,
is still indexed correctly. Running it again on a quiet Redis changes nothing. A SCAN can return a record twice
only if the keyspace shrinks during the pass (mass deletion or expiry), which would over-count; run it again then.

A full run (no queue named) stores :data:`BOOKKEEPING_VERSION` at ``{prefix}:schema``; a worker that starts on
records with no or an older marker logs ``bookkeeping.outdated`` with the command to run (:func:`check_schema`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from .keys import BOOKKEEPING_VERSION, Keys, validate_queue_name
from .logging_setup import get_logger
from .scripts import ScriptArgs, script_source
from .types import JobState

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

log = get_logger("queue_system.reindex")
BATCH = 500  # ids per script call: a few milliseconds of Redis time each
STATES = tuple(state.value for state in JobState)
TAG_COUNTS_KEEP_MS = 7 * 86400 * 1000  # as in state.lua: a tag's counters with no live job expire after this
Counts = dict[str, dict[str, int]]  # counter key -> field -> value


@dataclass
class QueueReport:
    """What the repair found (and, unless a dry run, fixed) in one queue."""

    records: int = 0
    counters_corrected: int = 0
    index_added: int = 0
    index_rescored: int = 0
    index_removed: int = 0
    registered: bool = False  # the queue had records but was missing from {prefix}:queues (the dashboard's list)

    @property
    def changes(self) -> int:
        changed = self.counters_corrected + self.index_added + self.index_rescored + self.index_removed
        return changed + self.registered


@dataclass
class ReindexReport:
    dry_run: bool
    queues: dict[str, QueueReport] = field(default_factory=dict)
    schema_set: bool = False

    def of(self, queue: str) -> QueueReport:
        return self.queues.setdefault(queue, QueueReport())

    @property
    def changes(self) -> int:
        return sum(q.changes for q in self.queues.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "schema_set": self.schema_set,
            "changes": self.changes,
            "queues": {name: asdict(q) for name, q in sorted(self.queues.items())},
        }


async def reindex(
    redis: Redis, keys: Keys, queues: Sequence[str] = (), *, dry_run: bool = False, batch: int = BATCH
) -> ReindexReport:
    """Repair the bookkeeping of ``queues`` (all when empty) from the job records; with ``dry_run`` only report."""
    run = _Repair(redis, keys, [validate_queue_name(q) for q in queues], dry_run, batch)
    expected = await run.index_records()
    await run.register_queues()
    await run.remove_strays()
    await run.write_counters(expected)
    if not dry_run and not queues:
        await redis.set(keys.schema, BOOKKEEPING_VERSION)
        run.report.schema_set = True
    return run.report


class _Repair:
    def __init__(self, redis: Redis, keys: Keys, queues: Sequence[str], dry_run: bool, batch: int) -> None:
        self.redis = redis
        self.keys = keys
        self.only = set(queues)
        self.dry_run = dry_run
        self.batch = batch
        self.script: AsyncScript = redis.register_script(script_source("reindex"))
        self.report = ReindexReport(dry_run)
        for queue in queues:
            self.report.of(queue)

    def _args(self, mode: str, items: list[str]) -> ScriptArgs:
        return [self.keys.prefix, mode, "1" if self.dry_run else "0", json.dumps(sorted(self.only)), *items]

    def _wanted(self, queue: str) -> bool:
        return not self.only or queue in self.only

    async def _scan(self, suffix: str, kind: str) -> AsyncIterator[list[str]]:
        """Keys ``{prefix}:{suffix}*`` of one Redis type, in batches (SCAN: Redis is never blocked)."""
        found: list[str] = []
        async for key in self.redis.scan_iter(match=f"{self.keys.prefix}:{suffix}*", count=1000, _type=kind):
            found.append(key.decode())
            if len(found) >= self.batch:
                yield found
                found = []
        if found:
            yield found

    async def index_records(self) -> Counts:
        """Pass 1: every record's job into its indexes; returns the counters the records add up to."""
        expected: Counts = defaultdict(lambda: defaultdict(int))
        meta = len(self.keys.meta(""))
        async for found in self._scan("meta:", "hash"):
            per_queue, counted = await self.script(args=self._args("records", [k[meta:] for k in found]))
            for i in range(0, len(per_queue), 4):
                seen = self.report.of(per_queue[i].decode())
                seen.records += int(per_queue[i + 1])
                seen.index_added += int(per_queue[i + 2])
                seen.index_rescored += int(per_queue[i + 3])
            for i in range(0, len(counted), 3):
                expected[counted[i].decode()][counted[i + 1].decode()] += int(counted[i + 2])
        return expected

    async def register_queues(self) -> None:
        """Every queue with records in ``{prefix}:queues``, which lists the queues (enqueue.lua adds them)."""
        names = sorted(q for q, seen in self.report.queues.items() if seen.records)
        if not names:
            return
        known = await self.redis.smismember(self.keys.queues, names)  # type: ignore[misc]
        missing = [name for name, there in zip(names, known, strict=True) if not there]
        for name in missing:
            self.report.of(name).registered = True
        if missing and not self.dry_run:
            await self.redis.sadd(self.keys.queues, *missing)  # type: ignore[misc]

    async def remove_strays(self) -> None:
        """Pass 2: take out of every index the members whose record does not put them there."""
        async for found in self._scan("jobs:", "zset"):
            for key in found:
                queue = self._queue_of(key, "jobs")
                if self._wanted(queue):
                    self.report.of(queue).index_removed += await self._remove_strays_from(key)

    async def _remove_strays_from(self, key: str) -> int:
        removed, members = 0, []
        async for member, _score in self.redis.zscan_iter(key, count=self.batch):
            members.append(member.decode())
            if len(members) >= self.batch:
                removed += int(await self.script(args=self._args("index", [key, *members])))
                members = []
        if members:
            removed += int(await self.script(args=self._args("index", [key, *members])))
        return removed

    async def write_counters(self, expected: Counts) -> None:
        """Pass 3: every counter hash, existing or due, set to what the records add up to."""
        existing: set[str] = set()
        async for found in self._scan("counts:", "hash"):
            existing.update(k for k in found if self._wanted(self._queue_of(k, "counts")))
        names = sorted(existing | set(expected))
        for start in range(0, len(names), self.batch):
            await self._correct(names[start : start + self.batch], expected)

    async def _correct(self, names: list[str], expected: Counts) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in names:
                pipe.hgetall(key)
            current = await pipe.execute()
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, raw in zip(names, current, strict=True):
                fixes = _corrections({k.decode(): int(v) for k, v in raw.items()}, expected.get(key, {}))
                self.report.of(self._queue_of(key, "counts")).counters_corrected += len(fixes)
                if fixes and not self.dry_run:
                    pipe.hset(key, mapping=fixes)
                    if ":tag:" in key:
                        _keep_tag_counts(pipe, key, live=any(expected.get(key, {}).get(s) for s in STATES))
            await pipe.execute()

    def _queue_of(self, key: str, kind: str) -> str:
        """The queue of ``{prefix}:{kind}:{queue}[:...]`` (queue names hold no colon: keys.validate_queue_name)."""
        return key[len(self.keys.prefix) + len(kind) + 2 :].split(":", 1)[0]


def _corrections(current: dict[str, int], expected: dict[str, int]) -> dict[str, int]:
    """The state fields (and a tag's per-function ones) whose value is not what the records add up to."""
    fields = set(STATES) | {f for f in (*current, *expected) if f.startswith("fn:")}
    return {f: expected.get(f, 0) for f in fields if current.get(f, 0) != expected.get(f, 0)}


def _keep_tag_counts(pipe: Any, key: str, *, live: bool) -> None:
    """As state.lua's flush_counts: a tag's counters stay while it has jobs, and expire some days after the last."""
    if live:
        pipe.persist(key)
    else:
        pipe.pexpire(key, TAG_COUNTS_KEEP_MS)


async def check_schema(redis: Redis, keys: Keys) -> bool:
    """At a worker's start: whether the bookkeeping is older than this code's (then it logs ``bookkeeping.outdated``
    with the command to run). With no marker, counters that already agree (each queue's count per state is the sum of
    its functions' counts: nothing to rebuild, as on a fresh Redis or one only this version wrote) get the marker."""
    marker = await redis.get(keys.schema)
    found = int(marker) if marker else None
    if found is not None and found >= BOOKKEEPING_VERSION:
        return False
    if found is None and await _function_counts_agree(redis, keys):
        await redis.set(keys.schema, BOOKKEEPING_VERSION)
        return False
    log.warning(
        "bookkeeping.outdated",
        found=found,
        expected=BOOKKEEPING_VERSION,
        fix="stop the workers, run `queue-system reindex`, start them again (README: Upgrading)",
    )
    return True


async def _function_counts_agree(redis: Redis, keys: Keys) -> bool:
    """Whether every known queue's counters equal the sums of its functions' (those ever enqueued to it, from the
    ``enqueued:{function}`` fields of its stats), state by state. An older version kept no function counters, so
    records it wrote make them disagree."""
    queues = sorted(q.decode() for q in await redis.smembers(keys.queues))  # type: ignore[misc]
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.hkeys(keys.stats(queue))
        stats = await pipe.execute()
    functions = {
        q: [f.decode()[len("enqueued:") :] for f in fs if f.startswith(b"enqueued:")]
        for q, fs in zip(queues, stats, strict=True)
    }
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.hmget(keys.counts(queue), list(STATES))
            for function in functions[queue]:
                pipe.hmget(keys.function_counts(queue, function), list(STATES))
        rows = iter(await pipe.execute())
    for queue in queues:
        total = [int(v or 0) for v in next(rows)]
        summed = [
            sum(int(v or 0) for v in column) for column in zip(*(next(rows) for _ in functions[queue]), strict=True)
        ]
        if total != (summed or [0] * len(STATES)):
            return False
    return True
