"""The public read API: one place that sees and steers jobs, used by the CLI, the dashboard and the HTTP API.

    api = QueueAPI(client)                      # or: async with await QueueAPI.connect() as api
    await api.stats("emails", tag="event_id=5")  # counts per state, paused or not, totals
    await api.jobs("emails", "failed", limit=20, function="send_email")
    await api.job(job_id)                       # state, tries, timestamps, progress, logs, result or error
    await api.pause("emails"); await api.resume("emails")
    await api.abort(job_id, wait_s=2)
    await api.clean("emails", "completed", older_than_s=3600)
    async for event in api.events(last=100, follow=True): ...

Everything reads what the Lua scripts keep (see lua/include/state.lua): each job's record, counters per queue and
per tag, per-state indexes and the event stream, so every call costs a few Redis commands whatever the queues'
sizes (no KEYS, no SCAN). Writes go through scripts too (abort, pause, clean), so counts stay exact.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from .admission import postponed_counts
from .backlog import oldest_waiting_age_s
from .batch_store import BATCH_TAG, BatchInfo, BatchPage, BatchStore
from .client import Client, Seconds, compute_due_ms
from .config import QueueConfig
from .errors import InvalidArgument, JobAlreadyStarted, JobNotFound, JobStateConflict, UnknownState
from .events import Event, EventStream
from .failed import FailedFilter, FailedJob, FailedPage
from .heartbeat import WorkerInfo, live_workers
from .keys import Keys, queue_key, queue_name_from_key, validate_queue_name
from .listing import Filters, Indexes
from .progress import parse_log_line
from .retention import RetentionPolicies, result_ttl_ms
from .schedule_store import ScheduleState, ScheduleStore
from .schedule_types import Schedule
from .scripts import ScriptArgs, script_source
from .serialization import loads
from .types import FINAL_STATES, READY_SCORE_CEILING, JobState, Priority
from .views import (
    REDACTED,
    AbortOutcome,
    AbortResult,
    Counts,
    JobAction,
    JobInfo,
    JobPage,
    LogLine,
    QueueStats,
    Throughput,
    Totals,
)

TagFilter = str | tuple[str, str] | Mapping[str, str]
ACTIVE_LIST_MAX = 10_000  # active jobs listed at most (they are as many as the workers' slots)
CLEAN_BATCH = 500
LIST_SCAN_MIN = 10_000  # entries a filtered listing may read per call, at least
SEARCH_BUDGET = 2_000  # entries one search call reads, at most (tens of ms of Redis time)
BULK_MAX = 10_000  # jobs one bulk removal touches, at most


class QueueAPI:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.redis = client.redis
        self.config: QueueConfig = client.config
        self.keys: Keys = client.keys
        self.scripts = client.scripts
        self.batch_store = BatchStore(self.redis, self.keys)
        self.indexes = Indexes(self.redis, self.keys)
        self._owns_client = False

    @classmethod
    async def connect(cls, config: QueueConfig | None = None) -> QueueAPI:
        api = cls(await Client.connect(config))
        api._owns_client = True
        return api

    async def close(self) -> None:
        if self._owns_client:
            await self.client.close()

    async def __aenter__(self) -> QueueAPI:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # ---- counts ---------------------------------------------------------------------------------------------

    async def queues(self) -> list[str]:
        """Every queue that has seen a job, been served or been paused."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smembers(self.keys.queues)
            pipe.smembers(self.keys.paused)
            known, paused = await pipe.execute()
        return sorted(q.decode() for q in known | paused)

    async def stats(
        self, queue: str | None = None, tag: TagFilter | None = None, *, function: str | None = None
    ) -> list[QueueStats]:
        """Counts per state for one queue (or every queue), of all its jobs or of those with one tag or of one
        function (kept by the scripts like the queue's own: exact, one read per queue)."""
        names = [validate_queue_name(queue)] if queue else await self.queues()
        tag_kv = _tag(tag)
        if tag_kv and function:
            raise UnknownState("counts are kept per tag and per function: give one of them")
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._counts_key(name, tag_kv, function))
            pipe.smembers(self.keys.paused)
            *raws, paused = await pipe.execute()
        paused_names = {p.decode() for p in paused}
        label = f"{tag_kv[0]}={tag_kv[1]}" if tag_kv else None
        return [
            QueueStats(name, name in paused_names, Counts.from_hash(raw), Totals.from_hash(raw), label, function)
            for name, raw in zip(names, raws, strict=True)
        ]

    def _counts_key(self, queue: str, tag_kv: tuple[str, str] | None, function: str | None) -> str:
        if tag_kv:
            return self.keys.tag_counts(queue, *tag_kv)
        return self.keys.function_counts(queue, function) if function else self.keys.counts(queue)

    async def counts(self, queue: str, tag: TagFilter | None = None, *, function: str | None = None) -> Counts:
        return (await self.stats(queue, tag, function=function))[0].counts

    # ---- operating it: workers, backlog age, job totals by function ------------------------------------------------

    async def workers(self) -> list[WorkerInfo]:
        """Every live worker's last heartbeat (host, pid, queues, concurrency, jobs done/failed, current jobs,
        memory), oldest start first."""
        return await live_workers(self.redis, self.keys)

    async def oldest_waiting_age_s(self, queue: str) -> float:
        """Seconds the oldest waiting job of ``queue`` has waited (0 when none waits)."""
        return await oldest_waiting_age_s(self.redis, self.scripts, self.keys, validate_queue_name(queue))

    async def job_totals(self, queue: str) -> dict[tuple[str, str], int]:
        """``(event, function) -> count`` ever recorded for ``queue`` (enqueued, started, completed, failed,
        retried, postponed; see job_stats.py)."""
        raw = await self.redis.hgetall(self.keys.stats(validate_queue_name(queue)))  # type: ignore[misc]
        totals: dict[tuple[str, str], int] = {}
        for field, value in raw.items():
            event, _, function = field.decode().partition(":")
            totals[(event, function)] = int(value)
        return totals

    # ---- listing and lookup ------------------------------------------------------------------------------------

    async def jobs(
        self,
        queue: str,
        state: JobState | str,
        *,
        offset: int = 0,
        limit: int = 50,
        function: str | None = None,
        tag: TagFilter | None = None,
    ) -> JobPage:
        """A page of a queue's jobs in one state, newest first (waiting: the last to run first; active: the
        latest started first), of one function and/or tag if given, with the listing's exact total. Read by rank
        from the indexes (listing.py), so a page costs the same at any offset of a million-job queue."""
        validate_queue_name(queue)
        state = JobState.parse(state)
        filters = Filters(function or None, _tag(tag))
        if state is JobState.ACTIVE:
            return await self._active_page(queue, filters, offset, limit)
        if state is JobState.WAITING and not filters:
            counts = await self.counts(queue)
            ids, more = await self._waiting_page(queue, offset, limit, counts.active)
            total = counts.waiting
        else:
            found = await self.indexes.page(queue, state, filters, offset, limit)
            ids, more, total = found.ids, found.more, found.total
        return JobPage(queue, state, offset, limit, total, more, await self._summaries(ids, queue))

    async def _active_page(self, queue: str, filters: Filters, offset: int, limit: int) -> JobPage:
        """Active jobs have no index (claiming is the hot path): they are the queue's leased members, as many as
        the workers' slots, found from the queue's front (claims take the lowest scores) by lua/list.lua."""
        active = (await self.counts(queue)).active
        found = min(active, ACTIVE_LIST_MAX)
        if not found:
            return JobPage(queue, JobState.ACTIVE, offset, limit, 0, False, [])
        args = (JobState.ACTIVE, filters.function, filters.tag, 0, found, "asc")
        ids, more = await self._scan(queue_key(queue), "+inf", "-inf", *args)
        jobs = sorted(await self._summaries(ids, queue), key=lambda j: j.started_at_ms or 0, reverse=True)
        total = active if not filters else None if more else len(jobs)
        return JobPage(queue, JobState.ACTIVE, offset, limit, total, more or len(jobs) > offset + limit,
                       jobs[offset : offset + limit])  # fmt: skip

    async def _waiting_page(self, queue: str, offset: int, limit: int, active: int) -> tuple[list[str], bool]:
        """A page of waiting jobs read straight from the ready band: it also holds the running jobs (as many as the
        workers' slots), so a few more are read and those the records call active are dropped."""
        extra = min(active, ACTIVE_LIST_MAX)
        key = queue_key(queue)
        # Ready scores sort below every due time, so the band is ranks 0..ready-1: paging by rank costs
        # O(log n) at any offset (paging by score would walk past every skipped entry).
        ready = int(await self.redis.zcount(key, "-inf", f"({READY_SCORE_CEILING}"))
        stop = ready - 1 - offset
        raw = await self.redis.zrange(key, max(stop - limit - extra, 0), stop) if stop >= 0 else []
        raw = raw[::-1]
        if extra:
            async with self.redis.pipeline(transaction=False) as pipe:
                for job_id in raw:
                    pipe.hget(self.keys.meta(job_id.decode()), "s")
                states = await pipe.execute()
            raw = [job_id for job_id, s in zip(raw, states, strict=True) if s != b"active"]
        return [i.decode() for i in raw[:limit]], len(raw) > limit

    async def _scan(
        self,
        key: str,
        high: str,
        low: str,
        state: JobState | None,
        function: str | None,
        tag_kv: tuple[str, str] | None,
        offset: int,
        limit: int,
        direction: str = "desc",
    ) -> tuple[list[str], bool]:
        """Matching ids by lua/list.lua, reading at most a bounded number of records."""
        tag_text = f"{tag_kv[0]}={tag_kv[1]}" if tag_kv else ""
        budget = max(LIST_SCAN_MIN, (offset + limit) * 20)
        args: ScriptArgs = [
            self.keys.prefix, high, low, state.value if state else "", function or "", tag_text, offset, limit,
            budget, direction,
        ]  # fmt: skip
        raw_ids, more = await self.scripts.list(keys=[key], args=args, client=self.redis)
        return [i.decode() for i in raw_ids], bool(more)

    async def _summaries(self, ids: list[str], queue: str) -> list[JobInfo]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self.keys.meta(job_id))
                pipe.zscore(queue_key(queue), job_id)
            raw = await pipe.execute()
        infos = []
        for job_id, meta, score in zip(ids, raw[::2], raw[1::2], strict=True):
            record = {k.decode(): v.decode() for k, v in meta.items()}
            infos.append(_info(job_id, record, score, queue))
        return infos

    async def job(self, job_id: str) -> JobInfo:
        """Everything about one job; :class:`JobNotFound` if nothing is kept of it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.meta(job_id))
            pipe.get(f"arq:job:{job_id}")
            pipe.get(f"arq:result:{job_id}")
            pipe.get(f"arq:retry:{job_id}")
            pipe.lrange(self.keys.logs(job_id), 0, -1)
            pipe.get(self.keys.failed_entry(job_id))
            meta, payload, result, tries, logs, failed = await pipe.execute()
        record = {k.decode(): v.decode() for k, v in meta.items()}
        failure = loads(failed) if failed else None
        job_data, result_data = _decode(payload), _decode(result)
        queue = record.get("q") or _queue_of(result_data) or (failure or {}).get("queue") or ""
        if not record and result_data is None and failure is None and job_data is None:
            raise JobNotFound(f"no job with id {job_id!r}")
        score = await self.redis.zscore(queue_key(queue), job_id) if queue else None
        info = _info(job_id, record, score, queue)
        state = info.state
        if not record.get("s"):  # no record (a plain-arq job not promoted yet, or its record was removed)
            state = _state_without_record(result_data, failure, score)
        source = job_data or result_data or {}
        outcome = result_data or {}
        return replace(
            info,
            state=state,
            function=info.function or str(source.get("f") or (failure or {}).get("function") or ""),
            tries=info.tries or int(tries or 0) or int(outcome.get("t") or 0),
            enqueued_at_ms=info.enqueued_at_ms or _int(source.get("et")),
            started_at_ms=info.started_at_ms or _int(outcome.get("st")),
            finished_at_ms=info.finished_at_ms or _int(outcome.get("ft")),
            args=source.get("a", []),
            kwargs=source.get("k", {}),
            result=outcome.get("r") if outcome.get("s") is True else None,
            error=info.error or _error_of(outcome),
            failure=_failure_summary(failure),
            logs=[LogLine(*parse_log_line(line)) for line in logs],
        )

    async def search(
        self,
        queue: str,
        state: JobState | str,
        text: str = "",
        *,
        function: str | None = None,
        tag: TagFilter | None = None,
        cursor: int = 0,
        limit: int = 50,
        budget: int = SEARCH_BUDGET,
    ) -> JobPage:
        """A page of a queue's jobs in one state whose payload, function or tags contain ``text`` (any case) and
        that match ``function`` and ``tag``, newest first, read from ``cursor``: a position in the smallest index
        the filters allow (the function's or the tag's; without a filter, the state's listing). A bounded scan,
        not an index: it reads at most ``budget`` entries, so each call stays fast on a million-job queue, and
        says so -- ``scanned`` (entries read), ``search_space`` (the filtered index's size) and ``next_cursor``
        (where to continue; None: the end was reached). Without ``text``, :meth:`jobs` pages the same filters by
        rank with an exact total."""
        validate_queue_name(queue)
        state = JobState.parse(state)
        filters = Filters(function or None, _tag(tag))
        if filters and state is not JobState.ACTIVE:
            key, size = await self.indexes.search_key(queue, state, filters)
            high, low = "+inf", "-inf"
        else:
            key, high, low = self._listing(queue, state)
            size = None
        tag_text = "=".join(filters.tag) if filters.tag else ""
        args: ScriptArgs = [
            self.keys.prefix, high, low, state.value, filters.function or "", tag_text, text.lower(), cursor, limit,
            budget,
        ]  # fmt: skip
        raw_ids, next_pos, scanned = await self.scripts.scan(keys=[key], args=args, client=self.redis)
        ids = [i.decode() for i in raw_ids]
        next_cursor = int(next_pos) if int(next_pos) >= 0 else None
        page = JobPage(queue, state, cursor, limit, None, next_cursor is not None, await self._summaries(ids, queue))
        return replace(page, next_cursor=next_cursor, scanned=int(scanned), search_space=size)

    def _listing(self, queue: str, state: JobState) -> tuple[str, str, str]:
        """The sorted set (and its score range) where a queue's jobs in ``state`` are found."""
        if state in FINAL_STATES or state in (JobState.DELAYED, JobState.RETRYING):
            return self.keys.index(queue, state), "+inf", "-inf"
        if state is JobState.WAITING:
            return queue_key(queue), f"({READY_SCORE_CEILING}", "-inf"
        return queue_key(queue), "+inf", "-inf"  # active: the whole queue

    async def logs(self, job_id: str, *, last: int = 200) -> list[LogLine]:
        raw = await self.redis.lrange(self.keys.logs(job_id), -last, -1)  # type: ignore[misc]
        return [LogLine(*parse_log_line(line)) for line in raw]

    async def postponed(self) -> dict[str, int]:
        """Jobs postponed so far by a rate limit, a full cap or a ``SlowDown``, per function (``"*"``: all)."""
        return await postponed_counts(self.redis, self.keys)

    # ---- steering -----------------------------------------------------------------------------------------------

    async def pause(self, queue: str) -> bool:
        """Stop workers taking jobs from ``queue`` (running ones finish). True if it was running."""
        return await self._pause(queue, "pause")

    async def resume(self, queue: str) -> bool:
        """Let workers take jobs from ``queue`` again, in priority order. True if it was paused."""
        return await self._pause(queue, "resume")

    async def _pause(self, queue: str, action: str) -> bool:
        args: ScriptArgs = [self.keys.prefix, self.config.events_maxlen, action, validate_queue_name(queue)]
        return bool(await self.scripts.pause(keys=[], args=args, client=self.redis))

    async def is_paused(self, queue: str) -> bool:
        return bool(await self.redis.sismember(self.keys.paused, queue))  # type: ignore[misc]

    async def abort(self, job_id: str, *, wait_s: float = 0.0) -> AbortResult:
        """Abort a job: a queued one is removed at once; a running one is cancelled by its worker (within about a
        second) and ``wait_s`` waits for that. An unknown id changes nothing."""
        ttl = result_ttl_ms(RetentionPolicies(self.config, {}).limits("", JobState.ABORTED))
        args: ScriptArgs = [self.keys.prefix, _now_ms(), self.config.events_maxlen, job_id, ttl]
        outcome_raw, previous_raw = await self.scripts.abort(keys=[], args=args, client=self.redis)
        outcome = AbortOutcome(outcome_raw.decode())
        previous = JobState(previous_raw.decode()) if previous_raw else None
        state = JobState.ABORTED if outcome is AbortOutcome.ABORTED else previous
        deadline = time.monotonic() + wait_s
        while outcome is AbortOutcome.CANCELLING and state is JobState.ACTIVE and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            raw = await self.redis.hget(self.keys.meta(job_id), "s")  # type: ignore[misc]
            state = JobState(raw.decode()) if raw else None
        return AbortResult(job_id, outcome, previous, state)

    async def clean(
        self, queue: str, state: JobState | str, *, older_than_s: float = 0.0, limit: int | None = None
    ) -> int:
        """Remove a queue's jobs in ``state`` that finished (queued states: were enqueued) at least
        ``older_than_s`` ago, at most ``limit``, in batches of 500 (each atomic). Returns how many."""
        validate_queue_name(queue)
        state = JobState.parse(state)
        if state is JobState.ACTIVE:
            raise UnknownState("active jobs cannot be cleaned; abort them instead")
        if not (math.isfinite(older_than_s) and older_than_s >= 0):
            raise InvalidArgument(f"older_than_s must be a finite number of seconds >= 0, not {older_than_s!r}")
        cutoff = int(max(-1.0, _now_ms() - older_than_s * 1000))  # older than the epoch: nothing is that old
        removed, offset = 0, 0
        while limit is None or removed < limit:
            size = CLEAN_BATCH if limit is None else min(CLEAN_BATCH, limit - removed)
            args: ScriptArgs = [
                self.keys.prefix,
                _now_ms(),
                self.config.events_maxlen,
                queue,
                state.value,
                cutoff,
                size,
                offset,
            ]
            count, offset = await self.scripts.clean(keys=[], args=args, client=self.redis)
            removed += int(count)
            if int(offset) < 0:
                break
        return removed

    # ---- deferred jobs -----------------------------------------------------------------------------------------

    async def deferred(
        self, queue: str, *, tag: TagFilter | None = None, function: str | None = None, offset: int = 0, limit: int = 50
    ) -> JobPage:
        """A queue's upcoming deferred jobs, the soonest due first (of one function or tag if given)."""
        validate_queue_name(queue)
        state = JobState.DELAYED
        filters = Filters(function or None, _tag(tag))
        found = await self.indexes.page(queue, state, filters, offset, limit, ascending=True)
        summaries = await self._summaries(found.ids, queue)
        return JobPage(queue, state, offset, limit, found.total, found.more, summaries)

    async def reschedule(
        self, job_id: str, *, defer_by: Seconds | None = None, defer_until: datetime | None = None
    ) -> JobInfo:
        """Move a job that has not started to a new time; its old time never runs. Raises
        :class:`JobAlreadyStarted` if it started (or ended) first, :class:`JobNotFound` if unknown."""
        if (defer_by is None) == (defer_until is None):
            raise UnknownState("give either defer_by or defer_until")
        now = _now_ms()
        due = compute_due_ms(now, defer_by, defer_until)
        ttl = max(0, due - now) + self.config.job_expires_s * 1000
        args: ScriptArgs = [self.keys.prefix, now, self.config.events_maxlen, job_id, due, ttl]
        script = self.redis.register_script(script_source("reschedule"))
        outcome, state = await script(keys=[], args=args, client=self.redis)
        _raise_unless(job_id, outcome.decode(), state.decode(), "rescheduled")
        return await self.job(job_id)

    async def cancel(self, job_id: str) -> AbortResult:
        """Cancel a job that has not started (waiting, deferred or between tries): it never runs. A job that
        started (or ended) is left alone and :class:`JobAlreadyStarted` raised; use :meth:`abort` to stop it."""
        ttl = result_ttl_ms(RetentionPolicies(self.config, {}).limits("", JobState.ABORTED))
        args: ScriptArgs = [self.keys.prefix, _now_ms(), self.config.events_maxlen, job_id, ttl, "1"]
        outcome, previous = await self.scripts.abort(keys=[], args=args, client=self.redis)
        _raise_unless(job_id, outcome.decode(), previous.decode(), "aborted")
        state = JobState(previous.decode())
        return AbortResult(job_id, AbortOutcome.ABORTED, state, JobState.ABORTED)

    # ---- schedules (declared crons, run-time schedules, conditions, alerts) ----------------------------------

    async def schedules(self) -> list[ScheduleState]:
        """Every schedule with its next runs (``state.next_runs(5)``), last firing and count."""
        return await ScheduleStore(self.redis, self.keys).all()

    async def schedule(self, name: str) -> ScheduleState:
        """One schedule; :class:`ScheduleNotFound` if none has that name."""
        return await ScheduleStore(self.redis, self.keys).get(name)

    async def put_schedule(self, schedule: Schedule, *, replace: bool = True) -> bool:
        """Add a schedule at run time, or change one (a changed definition starts from its next tick). With
        ``replace=False`` an existing schedule of that name is kept. True if something was written."""
        schedule = replace_origin(schedule, "dynamic")
        return await ScheduleStore(self.redis, self.keys).put(schedule, _now_ms(), only_create=not replace)

    async def remove_schedule(self, name: str) -> bool:
        """Remove a schedule (a declared cron comes back when a worker declaring it starts)."""
        return await ScheduleStore(self.redis, self.keys).remove(name)

    # ---- batches ----------------------------------------------------------------------------------------------

    async def batches(self, *, offset: int = 0, limit: int = 50) -> BatchPage:
        """Batches, newest first, with their status and progress."""
        return await self.batch_store.list(offset=offset, limit=limit)

    async def batch(self, batch_id: str) -> BatchInfo:
        """One batch (raises :class:`BatchNotFound`)."""
        return await self.batch_store.get(batch_id)

    async def batch_jobs(self, batch_id: str, outcome: str | None = None) -> dict[str, str]:
        """A batch's job ids -> pending / completed / failed / cancelled (only ``outcome`` when given)."""
        await self.batch_store.get(batch_id)
        return await self.batch_store.job_ids(batch_id, outcome)

    async def cancel_batch(self, batch_id: str) -> int:
        """Cancel a running batch: queued jobs removed (as aborted), running ones finish. Returns jobs removed."""
        ttl = result_ttl_ms(RetentionPolicies(self.config, {}).limits("", JobState.ABORTED))
        maxlen = self.config.events_maxlen
        return await self.batch_store.cancel(batch_id, now_ms=_now_ms(), events_maxlen=maxlen, result_ttl_ms=ttl)

    async def retry_batch(self, batch_id: str) -> int:
        """Retry a batch's failed jobs from the failed store (fresh tries); a finished batch re-opens and its
        counts follow (lua/include/batch.lua). Returns how many were retried."""
        await self.batch_store.get(batch_id)
        return await self.client.retry_failed_where(FailedFilter(tags={BATCH_TAG: batch_id}))

    async def prune_batches(self, older_than_s: float) -> int:
        """Delete batches that finished more than ``older_than_s`` ago (Laravel ``queue:prune-batches``)."""
        return await self.batch_store.prune(older_than_s)

    async def remove(self, job_id: str) -> JobAction:
        """Delete a job that is not running (queued or finished), with its record, and its failed-store entry.
        :class:`JobStateConflict` for a running job (abort it), :class:`JobNotFound` for an unknown id."""
        args: ScriptArgs = [self.keys.prefix, self.config.events_maxlen, job_id]
        outcome_raw, state_raw = await self.scripts.remove(keys=[], args=args, client=self.redis)
        outcome, state = outcome_raw.decode(), state_raw.decode() or None
        forgotten = await self.client.failed.forget([job_id])
        if outcome == "active":
            raise JobStateConflict(f"job {job_id!r} is running; abort it instead")
        if outcome == "not_found" and not forgotten:
            raise JobNotFound(f"no job with id {job_id!r}")
        return JobAction(job_id, "removed", state or ("failed" if forgotten else None))

    async def promote(self, job_id: str) -> JobAction:
        """Run a delayed or retrying job now (it keeps its priority). :class:`JobStateConflict` otherwise."""
        args: ScriptArgs = [self.keys.prefix, _now_ms(), job_id]
        outcome_raw, state_raw = await self.scripts.run_now(keys=[], args=args, client=self.redis)
        outcome, state = outcome_raw.decode(), state_raw.decode()
        if outcome == "not_found":
            raise JobNotFound(f"no job with id {job_id!r}")
        if outcome != "promoted":
            raise JobStateConflict(f"job {job_id!r} is {state}; only delayed or retrying jobs can be promoted")
        return JobAction(job_id, outcome, state)

    async def retry(self, job_id: str) -> JobAction:
        """Run a failed job again under its id with fresh tries (from the failed store)."""
        try:
            await self.client.retry_failed(job_id)
        except JobNotFound:
            info = await self.job(job_id)  # JobNotFound when there is nothing at all
            raise JobStateConflict(f"job {job_id!r} is {info.state.value}; only failed jobs can be retried") from None
        return JobAction(job_id, "retried", JobState.FAILED.value)

    async def retry_where(self, flt: FailedFilter | None = None) -> int:
        """Retry every failed job matching the filter (every failed job without one); returns how many."""
        return await self.client.retry_failed_where(flt)

    async def remove_where(
        self,
        queue: str,
        state: JobState | str,
        *,
        function: str | None = None,
        tag: TagFilter | None = None,
        limit: int = BULK_MAX,
    ) -> int:
        """Remove up to ``limit`` of a queue's jobs in one state matching a function and/or tag; returns how many.
        Without a filter, :meth:`clean` does the same in big atomic batches."""
        state = JobState.parse(state)
        if state is JobState.ACTIVE:
            raise UnknownState("active jobs cannot be removed; abort them instead")
        if not function and tag is None:
            return await self.clean(queue, state, limit=limit)
        removed, kept = 0, 0  # kept: matches that could not be removed, skipped by the next page
        while removed < limit:
            size = min(500, limit - removed)
            page = await self.jobs(queue, state, offset=kept, limit=size, function=function, tag=tag)
            for info in page.jobs:
                done = await self._remove_quietly(info.job_id)
                removed, kept = removed + done, kept + 1 - done
            if not page.more:
                break
        return removed

    async def _remove_quietly(self, job_id: str) -> int:
        try:
            await self.remove(job_id)
        except (JobNotFound, JobStateConflict):
            return 0
        return 1

    # ---- the failed store ---------------------------------------------------------------------------------------

    async def failed(self, flt: FailedFilter | None = None, *, offset: int = 0, limit: int = 50) -> FailedPage:
        """Failed jobs, newest first, paged from the store's indexes."""
        return await self.client.failed.list(flt, offset=offset, limit=limit)

    async def failed_entry(self, job_id: str) -> FailedJob:
        return await self.client.failed.get(job_id)

    async def forget_failed(self, job_ids: list[str]) -> int:
        """Drop entries from the failed store (the jobs' records stay until retention removes them)."""
        return await self.client.failed.forget(job_ids)

    async def flush_failed(self, flt: FailedFilter | None = None) -> int:
        return await self.client.failed.flush(flt)

    # ---- events -----------------------------------------------------------------------------------------------

    async def events(
        self, *, last: int = 0, follow: bool = False, after: str | None = None, block_s: float = 5.0
    ) -> AsyncIterator[Event]:
        """The last ``last`` events, oldest first; with ``follow``, then every new one as it comes (forever)."""
        stream = EventStream(self.redis, self.keys)
        if not follow:
            for event in await stream.last(last):
                yield event
            return
        async for event in stream.follow(last=last, after=after, block_ms=int(block_s * 1000)):
            yield event

    async def throughput(self, queue: str | None = None, *, minutes: int = 60) -> Throughput:
        """Completed and failed jobs per minute over the last ``minutes`` (of one queue, or of all)."""
        per_queue = await self.throughputs(minutes=minutes)
        start = _minute_start(minutes)
        chosen = [t for name, t in per_queue.items() if queue is None or name == queue]
        completed = [sum(col) for col in zip(*(t.completed for t in chosen), strict=True)] or [0] * minutes
        failed = [sum(col) for col in zip(*(t.failed for t in chosen), strict=True)] or [0] * minutes
        return Throughput(start, minutes, completed, failed)

    async def throughputs(self, *, minutes: int = 60) -> dict[str, Throughput]:
        """Per queue: completed and failed jobs per minute over the last ``minutes`` (at most 24 h), from the
        per-minute counters the scripts keep (one small hash per minute, whatever the throughput)."""
        start = _minute_start(minutes)
        async with self.redis.pipeline(transaction=False) as pipe:
            for slot in range(minutes):
                pipe.hgetall(self.keys.throughput(start // 60_000 + slot))
            buckets = await pipe.execute()
        found: dict[str, Throughput] = {}
        for slot, bucket in enumerate(buckets):
            for field, value in bucket.items():
                queue, _, outcome = field.decode().rpartition(":")
                series = found.setdefault(queue, Throughput(start, minutes, [0] * minutes, [0] * minutes))
                (series.completed if outcome == "completed" else series.failed)[slot] += int(value)
        return found


def _minute_start(minutes: int) -> int:
    return (_now_ms() // 60_000 - minutes + 1) * 60_000


def _raise_unless(job_id: str, outcome: str, state: str, expected: str) -> None:
    if outcome == expected:
        return
    if outcome == "not_found":
        raise JobNotFound(f"no queued job with id {job_id!r}")
    raise JobAlreadyStarted(job_id, state)


def replace_origin(schedule: Schedule, origin: str) -> Schedule:
    return replace(schedule, origin=origin)


def _tag(tag: TagFilter | None) -> tuple[str, str] | None:
    if tag is None:
        return None
    if isinstance(tag, str):
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise UnknownState(f"tag {tag!r} is not key=value")
        return key, value
    if isinstance(tag, tuple):
        return str(tag[0]), str(tag[1])
    ((key, value),) = tag.items()
    return str(key), str(value)


def _info(job_id: str, record: dict[str, str], score: float | None, queue: str) -> JobInfo:
    """A job's summary from its record (and its queue score, for a due time or a priority)."""
    state = JobState(record["s"]) if record.get("s") else JobState.WAITING
    priority = Priority.parse(int(record["p"])) if record.get("p") else None
    if priority is None and score is not None:
        priority = Priority.from_score(float(score))
    due = int(score) if score is not None and score >= READY_SCORE_CEILING else None
    return JobInfo(
        job_id=job_id,
        state=state,
        queue=record.get("q") or queue,
        function=record.get("f", ""),
        priority=priority.label if priority is not None else None,
        tags=loads(record["tg"]) if record.get("tg") else {},
        tries=_int(record.get("t")) or 0,
        enqueued_at_ms=_int(record.get("et")),
        started_at_ms=_int(record.get("st")),
        finished_at_ms=_int(record.get("ft")),
        due_at_ms=due if state in (JobState.DELAYED, JobState.RETRYING) else None,
        progress=float(record["pr"]) if record.get("pr") else None,
        progress_message=record.get("pm", ""),
        error=record.get("err") or None,
    )


def _decode(raw: bytes | None) -> dict[str, Any] | None:
    """A payload or result envelope, JSON only; a sensitive one keeps its secrets redacted."""
    if not raw:
        return None
    try:
        data = loads(raw)
    except ValueError:
        return {"f": "", "a": REDACTED, "k": REDACTED}
    if not isinstance(data, dict):
        return None
    if "enc" in data:
        data = {**data, "a": REDACTED, "k": REDACTED, "r": REDACTED}
    return data


def _state_without_record(result: dict[str, Any] | None, failure: Any, score: float | None) -> JobState:
    if result is not None:
        return JobState.COMPLETED if result.get("s") is True else JobState.FAILED
    if failure is not None:
        return JobState.FAILED
    return JobState.DELAYED if score is not None and score >= READY_SCORE_CEILING else JobState.WAITING


def _error_of(outcome: dict[str, Any]) -> str | None:
    if not outcome or outcome.get("s") is not False:
        return None
    value = outcome.get("r")
    return str(value) if value is not None else None


def _failure_summary(failure: Any) -> dict[str, Any] | None:
    if not isinstance(failure, dict):
        return None
    return {k: failure.get(k) for k in ("reason", "exc_type", "message", "traceback", "failed_at_ms", "tries")}


def _queue_of(result: dict[str, Any] | None) -> str | None:
    return queue_name_from_key(str(result["q"])) if result and result.get("q") else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _now_ms() -> int:
    return int(time.time() * 1000)
