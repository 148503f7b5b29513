"""``queue-system worker``: arq's Worker, serving several queues from one process with atomic claims.

Correctness lives in the runner and middleware (so the stock ``arq`` worker runs every job correctly); this
subclass only changes how jobs are found: one pipelined round trip per poll promotes due jobs and claims ready
ones (lua/claim.lua) from every served queue in the order the queues are listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from arq.connections import create_pool
from arq.constants import abort_jobs_ss
from arq.worker import Worker, get_kwargs

from .keys import DEFAULT_QUEUE, in_progress_key, job_key, queue_key, queue_name_from_key, result_key, retry_key
from .runner import CTX_DEFAULT_QUEUE, CTX_QUEUE_OF, CTX_RUNTIME, WorkerRuntime
from .worker_settings import CTX_ENGINE


class QueueWorker(Worker):
    """A Worker that serves ``queues`` (highest precedence first)."""

    def __init__(self, *, queues: Sequence[str], **kwargs: Any) -> None:
        kwargs.pop("queue_name", None)
        super().__init__(queue_name=queue_key(queues[0]), **kwargs)
        self.queues = list(queues)
        self._running_in: dict[str, str] = {}  # job id -> queue key, while the job runs here
        self._slot_freed = asyncio.Event()
        self.ctx[CTX_ENGINE] = True
        self.ctx[CTX_DEFAULT_QUEUE] = queues[0]
        self.ctx[CTX_QUEUE_OF] = lambda job_id: queue_name_from_key(self._running_in.get(job_id, ""))

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await create_pool(
                self.redis_settings,
                job_deserializer=self.job_deserializer,
                job_serializer=self.job_serializer,
                default_queue_name=self.queue_name,
                expires_extra_ms=self.expires_extra_ms,
            )
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)
        while True:
            claimed = await self._poll_iteration_count()
            if self.burst and not claimed and not self.tasks and await self._drained():
                return
            if not claimed:
                await self._idle_wait()

    async def _idle_wait(self) -> None:
        """Sleep until the poll delay passes or a running job frees a slot, whichever comes first."""
        self._slot_freed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._slot_freed.wait(), self.poll_delay_s)

    async def _poll_iteration(self) -> None:
        await self._poll_iteration_count()

    async def _poll_iteration_count(self) -> int:
        claimed = 0
        free = self.max_jobs - self.job_counter
        if self.allow_pick_jobs and free > 0:
            claimed = await self._claim_and_start(free)
        if self.allow_abort_jobs:
            await self._cancel_aborted_jobs()
        for job_id, task in list(self.tasks.items()):
            if task.done():
                del self.tasks[job_id]
                task.result()
        await self.heart_beat()
        return claimed

    async def _claim_and_start(self, free: int) -> int:
        runtime: WorkerRuntime = self.ctx[CTX_RUNTIME]
        now_ms = int(time.time() * 1000)
        ttl_ms = int(self.in_progress_timeout_s * 1000)
        async with self.pool.pipeline(transaction=False) as pipe:
            for queue in {*self.queues, DEFAULT_QUEUE}:
                await runtime.promote(queue, now_ms, pipe)
            for queue in self.queues:
                await runtime.scripts.claim(keys=[queue_key(queue)], args=[now_ms, free, ttl_ms], client=pipe)
            results = await pipe.execute()
        claims = results[-len(self.queues) :]
        started = 0
        for queue, flat in zip(self.queues, claims, strict=True):
            for raw_id, score in zip(flat[::2], flat[1::2], strict=True):
                job_id = raw_id.decode()
                if started >= free:
                    await self.pool.delete(in_progress_key(job_id))  # claimed past our free slots: give it back
                    continue
                self._start(job_id, queue_key(queue), int(float(score)))
                started += 1
        return started

    def _start(self, job_id: str, key: str, score: int) -> None:
        self.job_counter += 1
        self._running_in[job_id] = key
        task = self.loop.create_task(self.run_job(job_id, score))
        task.add_done_callback(lambda _t: self._job_done(job_id))
        self.tasks[job_id] = task

    def _job_done(self, job_id: str) -> None:
        self.job_counter -= 1
        self._running_in.pop(job_id, None)
        self._slot_freed.set()

    async def _drained(self) -> bool:
        async with self.pool.pipeline(transaction=False) as pipe:
            for queue in self.queues:
                pipe.zcard(queue_key(queue))
            sizes = await pipe.execute()
        return bool(sum(sizes) == 0)

    async def finish_job(
        self,
        job_id: str,
        finish: bool,
        result_data: bytes | None,
        result_timeout_s: float | None,
        keep_result_forever: bool,
        incr_score: int | None,
        keep_in_progress: float | None,
    ) -> None:
        """As arq's, but against the queue the job was claimed from."""
        key = self._running_in.get(job_id, self.queue_name)
        async with self.pool.pipeline(transaction=True) as tr:
            if keep_in_progress is None:
                tr.delete(in_progress_key(job_id))
            else:
                tr.pexpire(in_progress_key(job_id), int(keep_in_progress * 1000))
            if finish:
                if result_data:
                    expire_ms = None if keep_result_forever else int((result_timeout_s or 0) * 1000) or None
                    tr.set(result_key(job_id), result_data, px=expire_ms)
                tr.delete(retry_key(job_id), job_key(job_id))
                tr.zrem(abort_jobs_ss, job_id)
                tr.zrem(key, job_id)
            elif incr_score:
                tr.zincrby(key, incr_score, job_id)
            await tr.execute()

    async def finish_failed_job(self, job_id: str, result_data: bytes | None) -> None:
        key = self._running_in.get(job_id, self.queue_name)
        async with self.pool.pipeline(transaction=True) as tr:
            tr.delete(retry_key(job_id), in_progress_key(job_id), job_key(job_id))
            tr.zrem(abort_jobs_ss, job_id)
            tr.zrem(key, job_id)
            if result_data is not None and (self.keep_result_forever or self.keep_result_s > 0):
                expire_ms = None if self.keep_result_forever else int(self.keep_result_s * 1000)
                tr.set(result_key(job_id), result_data, px=expire_ms)
            await tr.execute()


def create_worker(
    settings: Any,
    *,
    queues: Sequence[str] | None = None,
    concurrency: int | None = None,
    burst: bool = False,
    **overrides: Any,
) -> QueueWorker:
    """A QueueWorker from a ``worker_settings(...)`` class, optionally narrowed to some of its queues."""
    kwargs: dict[str, Any] = dict(get_kwargs(settings))
    if concurrency is not None:
        kwargs["max_jobs"] = concurrency
        kwargs["queue_read_limit"] = concurrency
    kwargs.update(overrides)
    declared: Sequence[str] = getattr(settings, "qs_queues", (DEFAULT_QUEUE,))
    served = list(queues) if queues else list(declared)
    return QueueWorker(queues=served, burst=burst, **kwargs)
