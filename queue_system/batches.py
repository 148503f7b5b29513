"""Batches: many jobs tracked as one, with callbacks when they are done (Laravel's ``Bus::batch``).

    batch = await Batch.create(
        "event 5 certificates",
        jobs=[make_certificate.call(p.id) for p in participants],
        then=notify_done.call(), catch=alert.call(), finally_=cleanup.call(),
        tags={"event_id": 5},
    )
    await batch.add([make_certificate.call(late.id)])     # while the batch is running
    print(await batch.progress())                          # total, pending, completed, failed, percentage

A callback is an ordinary job, enqueued exactly once and called with its own arguments plus ``batch_id=`` the
batch's id: ``then`` when every job succeeded (or ended, with ``allow_failures``), ``catch`` on the first job
that fails for good (not with ``allow_failures``), ``finally_`` when every job has ended either way. The
counting happens in Redis, in the same atomic step that records each job's outcome (lua/include/batch.lua), so it
holds with any number of workers, under arq's own worker too, and when a worker dies mid-job (the job runs again
and counts once). Each job carries the tag ``batch=<id>`` (plus the batch's tags), so the counts per tag and the
failed store's filters work per batch.
"""

from __future__ import annotations

import inspect
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from .api import QueueAPI
from .batch_store import BATCH_TAG, CALLBACK_TAG, BatchInfo, BatchProgress
from .client import Client, Job, JobRequest
from .connection import REDIS_DOWN_ERRORS
from .errors import BatchClosed, BatchError, BatchNotFound, RedisUnavailable
from .registry import JobCall, current_client
from .scripts import ScriptArgs
from .serialization import dumps, loads
from .spec import FunctionInfo
from .types import JobContext

CALLBACKS = ("then", "catch", "finally")
# Jobs per lua/batch_add.lua call: one call blocks Redis while it runs, so a large batch is written in several.
BATCH_CHUNK = 1000
_BATCH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")  # part of Redis keys and of the jobs' tag


class Batch:
    """A handle on one batch. Create with :meth:`create`, or get an existing one with :meth:`open`."""

    def __init__(self, client: Client, batch_id: str) -> None:
        self.client = client
        self.batch_id = batch_id
        self.api = QueueAPI(client)
        self._tags: dict[str, str] | None = None

    @classmethod
    async def create(
        cls,
        name: str,
        jobs: Iterable[JobCall] = (),
        *,
        then: JobCall | None = None,
        catch: JobCall | None = None,
        finally_: JobCall | None = None,
        allow_failures: bool = False,
        tags: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        client: Client | None = None,
    ) -> Batch:
        """Create the batch and enqueue its jobs in one atomic step (more than ``BATCH_CHUNK`` jobs: one step per
        chunk, the batch held open until the last). A batch with no jobs finishes at once.

        Raises :class:`BatchError` for a callback that does not take ``batch_id``, a reserved tag or a taken id;
        then nothing is written.
        """
        if batch_id is not None and not _BATCH_ID.match(batch_id):
            raise BatchError(f"invalid batch id {batch_id!r}: use letters, digits, '-', '_' or '.' (max 100)")
        client = client or await current_client()
        batch = cls(client, batch_id or uuid.uuid4().hex)
        batch._tags = _batch_tags(tags)
        fields = {"name": name, "allow_failures": "1" if allow_failures else "0", "tags": dumps(batch._tags).decode()}
        for which, call in zip(CALLBACKS, (then, catch, finally_), strict=True):
            if call is not None:
                fields[which] = batch._callback_entry(which, call)
        await batch._write(list(jobs), fields)
        return batch

    @classmethod
    async def open(cls, batch_id: str, *, client: Client | None = None) -> Batch:
        """A handle on an existing batch (raises :class:`BatchNotFound` if there is none)."""
        batch = cls(client or await current_client(), batch_id)
        batch._tags = dict((await batch.info()).tags)
        return batch

    @classmethod
    async def of(cls, ctx: JobContext, *, client: Client | None = None) -> Batch | None:
        """The batch of the running job (Laravel's ``$this->batch()``), or None: how a job adds to its own batch,
        which is sure to be running while the job runs."""
        client = client or await current_client()
        raw = await client.redis.hget(client.keys.meta(str(ctx["job_id"])), "tg")  # type: ignore[misc]
        batch_id = loads(raw).get(BATCH_TAG) if raw else None
        return await cls.open(str(batch_id), client=client) if batch_id else None

    async def add(self, jobs: Iterable[JobCall]) -> list[Job]:
        """Add jobs to the running batch, atomically: a batch that finished or was cancelled raises
        :class:`BatchClosed` and gets none of them. Add from one of its own jobs to be sure it is still running."""
        if self._tags is None:
            self._tags = dict((await self.info()).tags)
        return await self._write(list(jobs), None)

    async def info(self) -> BatchInfo:
        return await self.api.batch(self.batch_id)

    async def progress(self) -> BatchProgress:
        return (await self.info()).progress

    async def cancel(self) -> int:
        """Cancel: its queued jobs are removed (ended as aborted), running ones finish; then and catch no longer
        fire, finally fires once nothing is left running. Returns how many jobs were removed."""
        return await self.api.cancel_batch(self.batch_id)

    async def retry_failed(self) -> int:
        """Retry the batch's failed jobs from the failed store (fresh tries); this re-opens a finished batch and
        its counts follow. Returns how many were retried."""
        return await self.api.retry_batch(self.batch_id)

    def _callback_entry(self, which: str, call: JobCall) -> str:
        """The callback as an enqueue.lua entry; lua/include/batch.lua enqueues it under its fixed id."""
        parameters = inspect.signature(call.spec.function).parameters
        if "batch_id" not in parameters and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            raise BatchError(f"{which} callback {call.spec.name} must take a batch_id keyword argument")
        self.client.register(call.spec.name, call.spec.info)
        tags = {**call.request.tags, CALLBACK_TAG: self.batch_id}
        request = replace(call.request, kwargs={**call.request.kwargs, "batch_id": self.batch_id}, tags=tags)
        return orjson.dumps(self.client._prepare(request, call.spec.info, int(time.time() * 1000))).decode()

    async def _write(self, calls: list[JobCall], create: dict[str, str] | None) -> list[Job]:
        """Write the jobs in calls of ``BATCH_CHUNK``; with several, the first holds the batch open and the last
        lets it go (lua/batch_add.lua), so it cannot finish in between."""
        entries = []
        infos: dict[str, FunctionInfo] = {}
        now_ms = int(time.time() * 1000)
        for call in calls:
            info = infos.get(call.spec.name)
            if info is None:
                info = infos[call.spec.name] = call.spec.info
                self.client.register(call.spec.name, info)
            r = call.request
            tags = {**r.tags, **(self._tags or {}), BATCH_TAG: self.batch_id}
            request = JobRequest(
                r.function, r.args, r.kwargs, r.queue, r.priority, r.defer_by, r.defer_until, r.job_id, tags
            )
            entries.append(self.client._prepare(request, info, now_ms))
        chunks = [entries[i : i + BATCH_CHUNK] for i in range(0, len(entries), BATCH_CHUNK)] or [[]]
        held = len(chunks) > 1
        created: list[int] = []
        for i, chunk in enumerate(chunks):
            first, last = i == 0, i == len(chunks) - 1
            try:
                created += await self._call(chunk, create if first else None, held and first, held and last)
            except BatchClosed:
                if held and not first and not last:
                    await self._call([], None, False, True)  # let go of the hold taken by the first call
                raise
        return [Job(self.client, e[0], e[5], duplicate=not ok) for e, ok in zip(entries, created, strict=True)]

    async def _call(
        self, chunk: list[list[str]], create: dict[str, str] | None, hold: bool, release: bool
    ) -> list[int]:
        args: ScriptArgs = [
            self.client.config.prefix,
            int(time.time() * 1000),
            self.batch_id,
            orjson.dumps(chunk),
            orjson.dumps(create) if create is not None else "",
            "1" if hold else "0",
            "1" if release else "0",
            self.client.config.events_maxlen,
        ]
        try:
            outcome, value = await self.api.batch_store.add_script(keys=[], args=args, client=self.client.redis)
        except REDIS_DOWN_ERRORS as exc:
            raise RedisUnavailable(f"batch write failed, Redis is unreachable: {type(exc).__name__}: {exc}") from exc
        if outcome == b"exists":
            raise BatchError(f"batch id {self.batch_id!r} is taken")
        if outcome == b"not_found":
            raise BatchNotFound(f"no batch with id {self.batch_id!r}")
        if outcome == b"closed":
            raise BatchClosed(f"batch {self.batch_id} is {value.decode()}: no jobs can be added")
        return [int(flag) for flag in value]

    def __repr__(self) -> str:
        return f"<Batch {self.batch_id}>"


def _batch_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if BATCH_TAG in tags or CALLBACK_TAG in tags:
        raise BatchError(f"the tags {BATCH_TAG!r} and {CALLBACK_TAG!r} are set by the batch itself")
    return tags
