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
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

from .client import Client
from .config import QueueConfig
from .errors import JobNotFound, UnknownState
from .events import Event, EventStream
from .keys import Keys, queue_key, queue_name_from_key, validate_queue_name
from .progress import parse_log_line
from .retention import RetentionPolicies, result_ttl_ms
from .scripts import ScriptArgs
from .serialization import loads
from .types import FINAL_STATES, READY_SCORE_CEILING, JobState, Priority
from .views import REDACTED, AbortOutcome, AbortResult, Counts, JobInfo, JobPage, LogLine, QueueStats, Totals

TagFilter = str | tuple[str, str] | Mapping[str, str]
ACTIVE_LIST_MAX = 10_000  # active jobs listed at most (they are as many as the workers' slots)
CLEAN_BATCH = 500
LIST_SCAN_MIN = 10_000  # entries a filtered listing may read per call, at least


class QueueAPI:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.redis = client.redis
        self.config: QueueConfig = client.config
        self.keys: Keys = client.keys
        self.scripts = client.scripts
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

    async def stats(self, queue: str | None = None, tag: TagFilter | None = None) -> list[QueueStats]:
        """Counts per state for one queue (or every queue), of all its jobs or of those with one tag."""
        names = [validate_queue_name(queue)] if queue else await self.queues()
        tag_kv = _tag(tag)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.tag_counts(name, *tag_kv) if tag_kv else self.keys.counts(name))
            pipe.smembers(self.keys.paused)
            *raws, paused = await pipe.execute()
        paused_names = {p.decode() for p in paused}
        label = f"{tag_kv[0]}={tag_kv[1]}" if tag_kv else None
        return [
            QueueStats(name, name in paused_names, Counts.from_hash(raw), Totals.from_hash(raw), label)
            for name, raw in zip(names, raws, strict=True)
        ]

    async def counts(self, queue: str, tag: TagFilter | None = None) -> Counts:
        return (await self.stats(queue, tag))[0].counts

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
        latest started first)."""
        validate_queue_name(queue)
        state = JobState.parse(state)
        tag_kv = _tag(tag)
        counts = await self.counts(queue, tag_kv)
        total = None if function else counts[state]
        if state is JobState.ACTIVE:  # no index: the queue's leased members, found from its front
            found = min(counts.active, ACTIVE_LIST_MAX)
            ids, more = await self._scan(queue_key(queue), "+inf", "-inf", state, function, tag_kv, 0, found, "asc")
            jobs = sorted(await self._summaries(ids, queue), key=lambda j: j.started_at_ms or 0, reverse=True)
            page = jobs[offset : offset + limit]
            return JobPage(queue, state, offset, limit, total, more or len(jobs) > offset + limit, page)
        if state in FINAL_STATES and not function and not tag_kv:
            index = self.keys.index(queue, state)
            raw_ids = await self.redis.zrevrangebyscore(index, "+inf", "-inf", offset, limit + 1)
            more, ids = len(raw_ids) > limit, [i.decode() for i in raw_ids[:limit]]
        elif state in FINAL_STATES:
            key = self.keys.index(queue, state)
            ids, more = await self._scan(key, "+inf", "-inf", None, function, tag_kv, offset, limit)
        elif state is JobState.WAITING:
            high = f"({READY_SCORE_CEILING}"
            ids, more = await self._scan(queue_key(queue), high, "-inf", state, function, tag_kv, offset, limit)
        else:
            low = str(READY_SCORE_CEILING)
            ids, more = await self._scan(queue_key(queue), "+inf", low, state, function, tag_kv, offset, limit)
        return JobPage(queue, state, offset, limit, total, more, await self._summaries(ids, queue))

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

    async def logs(self, job_id: str, *, last: int = 200) -> list[LogLine]:
        raw = await self.redis.lrange(self.keys.logs(job_id), -last, -1)  # type: ignore[misc]
        return [LogLine(*parse_log_line(line)) for line in raw]

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
        cutoff = _now_ms() - int(older_than_s * 1000)
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
