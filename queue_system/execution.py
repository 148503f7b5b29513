"""Running one claimed job under our engine and recording its outcome with a fenced finish.

The job's policy (retries, timeout, failed store, logs) is applied by the same runner and middleware as under
arq's own Worker; this module only turns the attempt's outcome into one atomic, fenced write (lua/finish.lua):
``done`` (result stored, job removed), ``retry`` (re-scored at its due time) or ``requeue`` (given back untried
on shutdown). Writes survive short Redis outages by retrying until the lease would have expired.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
from arq.jobs import serialize_result
from arq.utils import ms_to_datetime
from arq.worker import Retry as ArqRetry

from .connection import REDIS_DOWN_ERRORS
from .internal_jobs import undecodable_job
from .keys import Keys, queue_key
from .leases import LeaseKeeper
from .logging_setup import get_logger
from .runner import CTX_META, WorkerRuntime
from .spec import JobSpec
from .types import Priority

log = get_logger("queue_system.worker")
CLAIM_FIELDS = 11  # per job in lua/claim.lua's answer


@dataclass(frozen=True)
class Claim:
    """One job leased to this worker by lua/claim.lua."""

    job_id: str
    queue: str
    score: int
    token: str
    job_try: int
    payload: bytes
    meta: dict[str, str]


def parse_claims(answer: list[Any], queues: list[str]) -> tuple[int | None, list[Claim]]:
    """Decode claim.lua's flat answer: the next due time (ms) among deferred jobs, and the claimed jobs."""
    next_due = int(float(answer[0])) if answer[0] not in (-1, b"-1") else None
    claims = []
    for i in range(1, len(answer), CLAIM_FIELDS):
        k, job_id, score, token, job_try, payload, q, p, tg, et, ended = answer[i : i + CLAIM_FIELDS]
        meta = {
            name: v.decode()
            for name, v in zip(("q", "p", "tg", "et", "ended"), (q, p, tg, et, ended), strict=True)
            if v
        }
        claims.append(
            Claim(job_id.decode(), queues[int(k) - 1], int(float(score)), token.decode(), int(job_try), payload, meta)
        )
    return next_due, claims


@dataclass(frozen=True)
class Outcome:
    kind: str  # "done" | "retry" | "requeue"
    result: bytes = b""
    result_ttl_ms: int = 0
    retry_due: float = 0.0  # score: due time in ms plus the priority fraction


class Executor:
    """Runs claimed jobs for one worker."""

    def __init__(
        self, runtime: WorkerRuntime, base_ctx: dict[str, Any], *, lease_s: float, leases: LeaseKeeper
    ) -> None:
        self.runtime = runtime
        self.leases = leases
        self.base_ctx = base_ctx
        self.lease_s = lease_s
        self.keys = Keys(runtime.config.prefix)
        self.finisher = Finisher(runtime)
        self.completed = self.failed = self.retried = self.requeued = self.fenced = 0

    async def execute(self, claim: Claim) -> None:
        """Run the job and record its outcome. Cancellation (shutdown, lost lease) gives the job back untried."""
        data = (
            self.runtime.codec.deserialize(claim.payload)
            if claim.payload
            else undecodable_job(b"", "the job's payload is gone (expired or deleted)")
        )
        spec = self.runtime.specs[data["f"]]
        started_ms = int(time.time() * 1000)
        args, kwargs = tuple(data.get("a") or ()), dict(data.get("k") or {})
        ctx = {
            **self.base_ctx,
            "job_id": claim.job_id,
            "job_try": claim.job_try,
            "enqueue_time": ms_to_datetime(int(data.get("et") or 0)),
            "score": claim.score,
            CTX_META: claim.meta,
        }
        try:
            result = await self.runtime.run(ctx, spec, args, kwargs)
            outcome = self._done(claim, spec, data, started_ms, True, result)
            self.completed += 1
        except ArqRetry as exc:
            due_ms = int(time.time() * 1000) + (exc.defer_score or 0)
            priority = Priority.from_score(claim.score) or spec.priority
            outcome = Outcome("retry", retry_due=priority.deferred_score(due_ms))
            self.retried += 1
        except asyncio.CancelledError:
            outcome = Outcome("requeue")
            self.requeued += 1
        except Exception as exc:
            outcome = self._done(claim, spec, data, started_ms, False, exc)
            self.failed += 1
        await asyncio.shield(self.finish(claim, outcome))

    def _done(
        self, claim: Claim, spec: JobSpec, data: dict[str, Any], started_ms: int, ok: bool, value: Any
    ) -> Outcome:
        keep_s = spec.keep_result_s if spec.keep_result_s is not None else self.runtime.config.keep_result_s
        if not keep_s:
            return Outcome("done")
        raw = serialize_result(
            data["f"],
            tuple(data.get("a") or ()),
            dict(data.get("k") or {}),
            claim.job_try,
            int(data.get("et") or 0),
            ok,
            value,
            started_ms,
            int(time.time() * 1000),
            f"{claim.job_id}:{data['f']}",
            queue_key(claim.queue),
            claim.job_id,
            serializer=self.runtime.codec.serialize,
        )
        return Outcome("done", result=raw or b"", result_ttl_ms=int(keep_s * 1000))

    async def finish(self, claim: Claim, outcome: Outcome) -> bool:
        """Write the outcome if we still hold the lease; retry through Redis outages until the lease ran out.

        Renewal stops first: the write deletes the lease, and a renewal racing it must not mistake that for a loss.
        """
        self.leases.release(claim.job_id)
        deadline = time.monotonic() + self.lease_s
        delay = 0.05
        while True:
            try:
                accepted = await self._finish_once(claim, outcome)
                break
            except REDIS_DOWN_ERRORS as exc:
                if time.monotonic() > deadline:
                    log.error("job.finish_abandoned", job_id=claim.job_id, outcome=outcome.kind, error=str(exc))
                    return False
                log.warning("job.finish_retrying", job_id=claim.job_id, outcome=outcome.kind, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        if not accepted:
            self.fenced += 1
            log.warning(
                "job.outcome_discarded",
                job_id=claim.job_id,
                outcome=outcome.kind,
                reason="lease lost: the job was taken over by a newer attempt",
            )
        return accepted

    async def _finish_once(self, claim: Claim, outcome: Outcome) -> bool:
        entry = [
            claim.job_id,
            claim.token,
            outcome.kind,
            outcome.result.decode(),
            str(outcome.result_ttl_ms),
            repr(outcome.retry_due),
            claim.queue,
            queue_key(claim.queue),
        ]
        return await self.finisher.submit(entry)


class Finisher:
    """Batches outcomes into one lua/finish.lua call: outcomes that arrive while a call is in flight go together
    in the next one, so a busy worker pays one round trip per batch instead of one per job."""

    BATCH = 500

    def __init__(self, runtime: WorkerRuntime) -> None:
        self.runtime = runtime
        self.pending: list[tuple[list[str], asyncio.Future[bool]]] = []
        self.flushing: asyncio.Task[None] | None = None

    async def submit(self, entry: list[str]) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.pending.append((entry, future))
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self.pending:
            batch, self.pending = self.pending[: self.BATCH], self.pending[self.BATCH :]
            try:
                answers = await self.runtime.scripts.finish(
                    keys=[],
                    args=[self.runtime.config.prefix, orjson.dumps([e for e, _ in batch])],
                    client=self.runtime.redis,
                )
            except Exception as exc:  # each submitter decides whether to retry (see Executor.finish)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(bool(answer))
