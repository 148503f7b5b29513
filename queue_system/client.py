"""Producing jobs: enqueue one or many, deduplicate ids, read jobs back, replay failed ones.

Enqueue runs ``lua/enqueue.lua`` (check-and-write in one atomic step) instead of arq's WATCH/MULTI, which gives
priorities, exact duplicate detection under concurrency, and bulk enqueue as one pipelined round trip. The
payload format is exactly arq's, so arq workers and ``arq.jobs.Job`` read these jobs unchanged.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from arq.jobs import Job as ArqJob
from arq.jobs import JobStatus

from .config import QueueConfig
from .connection import REDIS_DOWN_ERRORS, close_redis, connect
from .crypto import Cipher
from .enqueue_wire import PlainJob, PlainShape, PreparedJob, script_calls
from .errors import EnqueueError, JobNotFound, RedisUnavailable
from .failed import FailedFilter, FailedJob, FailedStore
from .keys import DEFAULT_QUEUE, Keys, queue_key, validate_queue_name
from .limits import Unique, UniqueMode
from .scripts import Scripts
from .serialization import PayloadCodec, dumps
from .spec import FunctionInfo
from .types import Priority

Seconds = int | float | timedelta
# How enqueue.lua treats a job's id (its "force" field): a caller's id is taken while its payload or result exists
# (arq's rule); a failed-store retry replaces the old result; an id this client drew from os.urandom cannot exist,
# so it skips the lookup (a tenth of a bulk-enqueued job's Redis time).
ID_CHOSEN, ID_REPLACE, ID_NEW = "0", "1", "n"
MAX_PLAIN_SHAPES = 512


@dataclass(slots=True)
class JobRequest:
    """One job to enqueue; the bulk form of :meth:`Client.enqueue_job`'s arguments.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__``, which made building the
    request cost more than a bulk enqueue spends on the job in Python otherwise (1.8 us against 0.3). Nothing
    here changes a request after it is made.
    """

    function: str
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    queue: str | None = None
    priority: Priority | str | int | None = None
    defer_by: Seconds | None = None
    defer_until: datetime | None = None
    job_id: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)
    # How enqueues of the same unique key collapse (limits.Unique); the typed handle fills it from @job(unique=).
    unique: Unique | None = None
    # The key of the function's keyed rate limit, computed from the arguments (the typed handle does this; a job
    # enqueued without it gets its key computed by the worker).
    limit_key: str | None = None


class Job:
    """A handle on an enqueued job. ``duplicate`` is true when nothing was written: the id already existed, or
    a unique key returned an earlier job (whose id ``job_id`` then is). ``replaced`` is true when a debounced
    enqueue replaced the waiting job's arguments and delay (same id)."""

    # slots: a bulk enqueue returns thousands of handles nobody reads, and each __dict__ was one more allocation
    __slots__ = ("_arq_job", "client", "duplicate", "job_id", "queue", "replaced")

    def __init__(
        self, client: Client, job_id: str, queue: str, *, duplicate: bool = False, replaced: bool = False
    ) -> None:
        self.client = client
        self.job_id = job_id
        self.queue = queue
        self.duplicate = duplicate
        self.replaced = replaced
        self._arq_job: ArqJob | None = None

    @property
    def _arq(self) -> ArqJob:  # made on first use, for the same reason
        if self._arq_job is None:
            self._arq_job = ArqJob(
                self.job_id,
                self.client.redis,
                _queue_name=queue_key(self.queue),
                _deserializer=self.client.codec.deserialize,
            )
        return self._arq_job

    async def status(self) -> JobStatus:
        return await self._arq.status()

    async def result(self, timeout: float | None = None, *, poll_delay: float = 0.05) -> Any:
        """Wait for the result; a failed job raises :class:`JobFailed` with the original type and message."""
        return await self._arq.result(timeout=timeout, poll_delay=poll_delay)

    def __repr__(self) -> str:
        return f"<Job {self.job_id} queue={self.queue}{' duplicate' if self.duplicate else ''}>"


class Client:
    """Connects producers to the queues. Create with :meth:`connect`; use as an async context manager."""

    def __init__(self, redis: ArqRedis, config: QueueConfig, codec: PayloadCodec) -> None:
        self.redis = redis
        self.config = config
        self.codec = codec
        self.keys = Keys(config.prefix)
        self.scripts = Scripts(redis)
        self.failed = FailedStore(
            redis, self.keys, max_entries=config.failed_max_entries, max_age_s=config.failed_max_age_s
        )
        self._local: dict[str, FunctionInfo] = {}
        self._published: dict[str, FunctionInfo] = {}
        self._published_at = 0.0
        self._valid_queues: set[str] = set()  # queue names already checked (a bulk enqueue checks each once)
        # one shape object per kind of plain job, so a bulk call's run of alike jobs compares by identity
        self._plain_shapes: dict[tuple[str, Priority, str, str], PlainShape] = {}

    @classmethod
    async def connect(cls, config: QueueConfig | None = None) -> Client:
        config = config or QueueConfig.from_env()
        cipher = Cipher(config.encryption_keys) if config.encryption_keys else None
        codec = PayloadCodec(max_payload_bytes=config.max_payload_bytes, cipher=cipher)
        return cls(await connect(config, codec), config, codec)

    async def close(self) -> None:
        await close_redis(self.redis)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def register(self, name: str, info: FunctionInfo) -> None:
        """Tell this client a function's routing (typed handles do this, so no Redis lookup is needed)."""
        self._local[name] = info

    async def function_info(self, name: str) -> FunctionInfo:
        """Routing for ``name``: declared locally, else as published by workers, else defaults.

        Published routing is cached for 5 s, a miss for 1 s. A function nobody has declared or published yet may
        be sensitive: with encryption keys configured its payload is encrypted, to be safe.
        """
        if name in self._local:
            return self._local[name]
        age = time.monotonic() - self._published_at
        if age > 5 or (name not in self._published and age > 1):
            raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.functions)  # type: ignore[misc]
            self._published = {k.decode(): FunctionInfo.from_json(v) for k, v in raw.items()}
            self._published_at = time.monotonic()
        return self._published.get(name) or FunctionInfo(sensitive=self.codec.cipher is not None)

    async def enqueue_job(
        self,
        function: str,
        *args: Any,
        _queue: str | None = None,
        _priority: Priority | str | int | None = None,
        _defer_by: Seconds | None = None,
        _defer_until: datetime | None = None,
        _job_id: str | None = None,
        _tags: Mapping[str, Any] | None = None,
        _unique: Unique | None = None,
        **kwargs: Any,
    ) -> Job:
        """Enqueue one job. Returns a :class:`Job`; ``job.duplicate`` tells that the id was already taken."""
        request = JobRequest(
            function, args, kwargs, _queue, _priority, _defer_by, _defer_until, _job_id, dict(_tags or {}), _unique
        )
        (job,) = await self.enqueue_many([request])
        return job

    async def enqueue_many(self, requests: Iterable[JobRequest]) -> list[Job]:
        """Enqueue many jobs in one pipelined round trip (one script call per run of alike jobs, at most
        ``ENQUEUE_CHUNK`` each: see enqueue_wire).

        Everything is encoded and checked before anything is written, so one bad job writes none of them.
        """
        try:
            requests = list(requests)
            infos = {name: await self.function_info(name) for name in {r.function for r in requests}}
            now_ms = int(time.time() * 1000)  # the call's jobs share their enqueue time
            prepared = [self._prepare_any(r, infos[r.function], now_ms) for r in requests]
            return await self._write(prepared) if prepared else []
        except REDIS_DOWN_ERRORS as exc:
            raise RedisUnavailable(f"enqueue failed, Redis is unreachable: {type(exc).__name__}: {exc}") from exc

    async def _write(self, prepared: list[PreparedJob]) -> list[Job]:
        now = str(int(time.time() * 1000))
        prefix = self.config.prefix
        calls = script_calls(prepared)
        if len(calls) == 1:  # one EVALSHA; a pipeline would first ask SCRIPT EXISTS, a second round trip
            answers = [await self.scripts.enqueue(keys=[], args=[now, prefix, *calls[0].args])]
        else:
            async with self.redis.pipeline(transaction=False) as pipe:
                for call in calls:
                    await self.scripts.enqueue(keys=[], args=[now, prefix, *call.args], client=pipe)
                answers = await pipe.execute()
        jobs: list[Job] = []
        for call, call_answers in zip(calls, answers, strict=True):
            if call.run:
                if call_answers != [len(call.ids)]:
                    raise EnqueueError(f"enqueue.lua answered a run of {len(call.ids)} jobs with {call_answers!r}")
                jobs += [Job(self, job_id, queue) for job_id, queue in zip(call.ids, call.queues, strict=True)]
            else:
                jobs += [_job_of(self, *job) for job in zip(call.ids, call.queues, call_answers, strict=True)]
        return jobs

    def _prepare_any(self, request: JobRequest, info: FunctionInfo, now_ms: int) -> PreparedJob:
        """A plain job (new id, ready now, no unique or limit key) in enqueue_wire's compact form, else as
        :meth:`_prepare` makes it."""
        if (
            request.job_id
            or request.defer_by is not None
            or request.defer_until is not None
            or request.unique is not None
            or request.limit_key is not None
        ):
            return self._prepare(request, info, now_ms)
        return self._prepare_plain(request, info, now_ms)

    def _prepare_plain(self, request: JobRequest, info: FunctionInfo, now_ms: int) -> PlainJob:
        queue, priority = self._route(request, info)
        payload = _own_block(self._payload(request, info, now_ms))
        tags = _tags_json(request.tags)
        key = (queue, priority, request.function, tags)
        shape = self._plain_shapes.get(key)
        if shape is None:
            if len(self._plain_shapes) >= MAX_PLAIN_SHAPES:  # (one-off tags must not grow it forever)
                self._plain_shapes.clear()
            expires = str(self.config.job_expires_s * 1000)
            shape = self._plain_shapes[key] = (expires, str(int(priority)), queue, queue_key(queue), key[2], tags)
        return shape, payload

    def _prepare(self, request: JobRequest, info: FunctionInfo, now_ms: int) -> list[str]:
        """One job in enqueue.lua's general form (see its header), after every check that can refuse it."""
        queue, priority = self._route(request, info)
        if request.defer_by is not None and request.defer_until is not None:
            raise EnqueueError("use either _defer_by or _defer_until, not both")
        due_ms = compute_due_ms(now_ms, request.defer_by, request.defer_until)
        unique = request.unique
        if unique is not None and unique.mode is UniqueMode.DEBOUNCE:
            due_ms = max(due_ms, now_ms + unique.ttl_ms)
        payload = self._payload(request, info, now_ms)
        job_id, id_mode = (request.job_id, ID_CHOSEN) if request.job_id else (new_job_id(), ID_NEW)
        tags = _tags_json(request.tags)
        entry = self._job_entry(job_id, queue, priority, request.function, payload, due_ms, now_ms, tags, id_mode)
        if unique is not None:
            lock = self.keys.unique(unique.key_for(request.function, request.args, request.kwargs))
            lock_ms = unique.ttl_ms if unique.mode is UniqueMode.TTL else int(entry[2])
            entry += [unique.mode.value, lock, str(lock_ms)]
        if request.limit_key is not None:
            entry += [""] * (13 - len(entry)) + [request.limit_key]
        return entry

    def _route(self, request: JobRequest, info: FunctionInfo) -> tuple[str, Priority]:
        """The job's queue (checked once per name) and priority."""
        queue = request.queue or info.queue
        if queue not in self._valid_queues:
            self._valid_queues.add(validate_queue_name(queue))
        priority = Priority.parse(request.priority) if request.priority is not None else info.priority
        return queue, priority

    def _payload(self, request: JobRequest, info: FunctionInfo, now_ms: int) -> bytes:
        """arq's job payload (function, args, kwargs, enqueue time), encrypted for sensitive functions."""
        args, kwargs = request.args, request.kwargs  # (JSON makes a tuple an array: copied only when it must be)
        args = args if type(args) is tuple or type(args) is list else list(args)
        kwargs = kwargs if type(kwargs) is dict else dict(kwargs)
        data = {"t": None, "f": request.function, "a": args, "k": kwargs, "et": now_ms}
        return self.codec.serialize(data, sensitive=info.sensitive)

    def _job_entry(
        self,
        job_id: str,
        queue: str,
        priority: Priority,
        function: str,
        payload: bytes,
        due_ms: int,
        now_ms: int,
        tags: str,
        id_mode: str,
    ) -> list[str]:
        ttl_ms = max(0, due_ms - now_ms) + self.config.job_expires_s * 1000
        return [
            job_id,
            payload.decode(),
            str(ttl_ms),
            str(due_ms),
            str(int(priority)),
            queue,
            queue_key(queue),
            function,
            tags,
            id_mode,
        ]

    def job(self, job_id: str, queue: str = DEFAULT_QUEUE) -> Job:
        return Job(self, job_id, queue)

    async def queue_size(self, queue: str) -> int:
        """Jobs in a queue that have not finished: waiting, deferred, retrying and running."""
        return int(await self.redis.zcard(queue_key(validate_queue_name(queue))))

    async def known_queues(self) -> list[str]:
        members: set[bytes] = await self.redis.smembers(self.keys.queues)  # type: ignore[misc]
        return sorted(q.decode() for q in members)

    async def retry_failed(self, job_id: str) -> Job:
        """Re-enqueue a failed job under its id with fresh tries, then drop it from the failed store."""
        entry = await self.failed.get(job_id)
        job = await self._requeue(entry)
        await self.failed.forget([job_id])
        return job

    async def retry_failed_where(self, flt: FailedFilter | None = None) -> int:
        """Retry every failed job matching the filter (all of them without one); returns how many."""
        count = 0
        for job_id in await self.failed.ids(flt):
            try:
                await self.retry_failed(job_id)
            except JobNotFound:
                continue
            count += 1
        return count

    async def _requeue(self, entry: FailedJob) -> Job:
        now_ms = int(time.time() * 1000)
        job = self._job_entry(
            entry.job_id,
            entry.queue,
            Priority.parse(entry.priority),
            entry.function,
            entry.payload.encode(),
            now_ms,
            now_ms,
            _tags_json(entry.tags),
            ID_REPLACE,
        )
        await self.redis.delete(f"arq:retry:{entry.job_id}")
        await self._write([job])
        return Job(self, entry.job_id, entry.queue)


def new_job_id() -> str:
    """A random id like arq's (``uuid4().hex``: 32 hex digits), at a fifth of its cost (it shows in bulk enqueue)."""
    return os.urandom(16).hex()


def _job_of(client: Client, job_id: str, queue: str, answer: Any) -> Job:
    """enqueue.lua answers 1 (created), 0 (id taken), ``d:<id>`` (a unique key's earlier job) or ``r:<id>``
    (a debounced job replaced in place)."""
    if answer == 1:
        return Job(client, job_id, queue)
    if isinstance(answer, bytes) and answer[:2] in (b"d:", b"r:"):
        return Job(client, answer[2:].decode(), queue, duplicate=answer[:1] == b"d", replaced=answer[:1] == b"r")
    return Job(client, job_id, queue, duplicate=not int(answer))


def _own_block(payload: bytes) -> bytes:
    """A copy of ``payload`` in a memory block of its own size, for payloads kept until the call is sent.

    orjson writes into a 1 KiB block and shrinks it to fit. A bulk call keeps a thousand such payloads alive, and
    glibc then gave back and took again the heap's top page about once per payload: 1.05 page faults per job
    (getrusage), ~3 us of what had been a ~5 us job in the producer. Copied, orjson's block is freed at once and
    the next payload reuses it (0.01 faults per job; bench/RESULTS.md, session 10).
    """
    return bytes(memoryview(payload))


def _tags_json(tags: Mapping[str, Any] | None) -> str:
    """A job's tags as its record keeps them (values as strings), "{}" for none."""
    return dumps({str(k): str(v) for k, v in tags.items()}).decode() if tags else "{}"


def compute_due_ms(now_ms: int, defer_by: Seconds | None, defer_until: datetime | None) -> int:
    """When a job deferred by ``defer_by`` or until ``defer_until`` is due (refusing naive or negative times)."""
    if defer_until is not None:
        if defer_until.tzinfo is None:
            raise EnqueueError("_defer_until must be timezone-aware (e.g. datetime.now(UTC) + ...)")
        return int(defer_until.timestamp() * 1000)
    if defer_by is not None:
        seconds = defer_by.total_seconds() if isinstance(defer_by, timedelta) else float(defer_by)
        if seconds < 0:
            raise EnqueueError("_defer_by must not be negative")
        return now_ms + int(seconds * 1000)
    return now_ms
