"""Running one claimed job under our engine and recording its outcome with a fenced finish.

The job's policy (retries, timeout, failed store, logs) is applied by the same runner and middleware as under
arq's own Worker; this module only turns the attempt's outcome into one atomic, fenced write (lua/finish.lua):
``completed`` / ``failed`` (result stored for as long as the job's record is kept, job removed), ``aborted``
(cancelled by an abort request), ``retry`` (re-scored at its due time), ``requeue`` (given back untried on
shutdown or a lost lease) or ``postpone`` (a limit was full or the job asked to slow down: re-scored, untried).
The write itself, batched and retried through short Redis outages, is the Finisher's (finisher.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from arq.jobs import serialize_result
from arq.utils import ms_to_datetime
from arq.worker import Retry as ArqRetry

from .errors import JobAborted
from .finisher import Finisher
from .internal_jobs import undecodable_job
from .keys import Keys, queue_key
from .leases import LeaseKeeper
from .middleware import CTX_ADMITTED, Postponed
from .retention import result_ttl_ms
from .runner import WorkerRuntime, attempt_priority, error_summary, lost_attempts, record_tags
from .spec import JobSpec
from .types import JobState, Priority

CLAIM_FIELDS = 11  # per job in lua/claim.lua's answer


@dataclass(slots=True)  # not frozen: a frozen dataclass pays object.__setattr__ per field, per job
class Claim:
    """One job leased to this worker by lua/claim.lua."""

    job_id: str
    queue: str
    score: int
    token: str
    job_try: int
    payload: bytes
    meta: dict[str, str]
    abort: bool = False  # its abort was requested while an earlier attempt's worker died: record, don't run
    admitted: bool = True  # lua/claim.lua applied its limits (else the limits middleware admits it)


def parse_claims(answer: list[Any], queues: list[str]) -> tuple[int | None, list[Claim]]:
    """Decode claim.lua's flat answer: the next due time (ms) among deferred jobs, and the claimed jobs."""
    next_due = int(float(answer[0])) if answer[0] not in (-1, b"-1") else None
    claims = []
    for i in range(1, len(answer), CLAIM_FIELDS):
        k, job_id, score, token, job_try, payload, p, tg, ended, abort, admitted = answer[i : i + CLAIM_FIELDS]
        queue = queues[int(k) - 1]
        meta = {"q": queue}
        if p:
            meta["p"] = p.decode()
        if tg:
            meta["tg"] = tg.decode()
        if ended:
            meta["ended"] = ended.decode()
        claims.append(
            Claim(
                job_id.decode(),
                queue,
                int(float(score)),
                token.decode(),
                int(job_try),
                payload,
                meta,
                bool(abort),
                bool(admitted),
            )
        )
    return next_due, claims


@dataclass(slots=True)
class Outcome:
    kind: str  # "completed" | "failed" | "aborted" | "retry" | "requeue" | "postpone"
    result: bytes = b""
    result_ttl_ms: int = 0  # 0 = forever (when there is a result)
    retry_due: float = 0.0  # score: due time in ms plus the priority fraction
    error: str = ""
    keep: tuple[int, int] = (-1, -1)  # the record's retention: count, age ms (-1 = no limit)
    function: str = ""  # the producer's function name, for the outcome's event


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
        self.finisher = Finisher(runtime.scripts, runtime.config)
        self.aborting: set[str] = set()  # running jobs cancelled by an abort request (not by shutdown)
        self.completed = self.failed = self.retried = self.requeued = self.aborted = 0
        self.postponed = 0

    async def execute(self, claim: Claim) -> None:
        """Run the job and record its outcome. Cancellation gives the job back untried (shutdown, lost lease),
        unless an abort request caused it: then the job ends as aborted."""
        if claim.abort:
            data = self.runtime.codec.deserialize(claim.payload) if claim.payload else {}
            self.finish(claim, self._ended(claim, None, data, 0, JobState.ABORTED, JobAborted("aborted")))
            return
        data = (
            self.runtime.codec.deserialize(claim.payload)
            if claim.payload
            else undecodable_job(b"", "the job's payload is gone (expired or deleted)")
        )
        spec = self.runtime.specs[data["f"]]
        started_ms = int(time.time() * 1000)
        args, kwargs = tuple(data.get("a") or ()), dict(data.get("k") or {})
        enqueued_ms = int(data.get("et") or 0)
        ctx = {
            **self.base_ctx,
            "job_id": claim.job_id,
            "job_try": claim.job_try,
            "enqueue_time": ms_to_datetime(enqueued_ms),
            "score": claim.score,
            CTX_ADMITTED: claim.admitted,
        }
        meta = claim.meta  # the claim knows the queue for certain, and the payload the enqueue time
        call = self.runtime.attempt(
            ctx,
            spec,
            args,
            kwargs,
            job_id=claim.job_id,
            job_try=claim.job_try,
            queue=claim.queue,
            priority=attempt_priority(meta, claim.score, spec),
            tags=record_tags(meta),
            enqueued_at_ms=enqueued_ms,
            lost_attempts=lost_attempts(claim.job_try, meta),
            token=claim.token,
        )
        try:
            result = await self.runtime.run_call(call)
            outcome = self._ended(claim, spec, data, started_ms, JobState.COMPLETED, result)
            self.completed += 1
        except Postponed as exc:
            due = (Priority.from_score(claim.score) or spec.priority).deferred_score(
                int(time.time() * 1000) + (exc.defer_score or 0)
            )
            outcome = Outcome("postpone", retry_due=due, error=exc.reason, function=_producer_function(data))
            self.postponed += 1
        except ArqRetry as exc:
            due_ms = int(time.time() * 1000) + (exc.defer_score or 0)
            priority = Priority.from_score(claim.score) or spec.priority
            error = error_summary(exc.__cause__ or exc)
            due = priority.deferred_score(due_ms)
            outcome = Outcome("retry", retry_due=due, error=error, function=_producer_function(data))
            self.retried += 1
        except asyncio.CancelledError:
            if claim.job_id in self.aborting:
                outcome = self._ended(claim, spec, data, started_ms, JobState.ABORTED, JobAborted("aborted"))
                self.aborted += 1
            else:
                outcome = Outcome("requeue")
                self.requeued += 1
        except Exception as exc:
            outcome = self._ended(claim, spec, data, started_ms, JobState.FAILED, exc)
            self.failed += 1
        finally:
            self.aborting.discard(claim.job_id)
        self.finish(claim, outcome)

    def _ended(
        self, claim: Claim, spec: JobSpec | None, data: dict[str, Any], started_ms: int, state: JobState, value: Any
    ) -> Outcome:
        """The outcome of an attempt that ended the job, with its result kept as long as its record."""
        ok = state is JobState.COMPLETED
        keep = self.runtime.retention.limits(claim.queue, state, spec.keep_result_s if spec else None)
        error = "" if ok else error_summary(value)
        ttl_ms = result_ttl_ms(keep)
        producer_function = _producer_function(data)
        if ttl_ms == 0:
            return Outcome(state.value, error=error, keep=keep, function=producer_function)
        function = str(data.get("f") or "")
        raw = serialize_result(
            function,
            tuple(data.get("a") or ()),
            dict(data.get("k") or {}),
            claim.job_try,
            int(data.get("et") or 0),
            ok,
            value,
            started_ms or int(time.time() * 1000),
            int(time.time() * 1000),
            f"{claim.job_id}:{function}",
            queue_key(claim.queue),
            claim.job_id,
            serializer=self.runtime.codec.serialize,
        )
        return Outcome(state.value, raw or b"", max(ttl_ms, 0), error=error, keep=keep, function=producer_function)

    def finish(self, claim: Claim, outcome: Outcome) -> None:
        """Hand the outcome to the Finisher, which writes it (finisher.py). The job's task does not wait for the
        write: its slot takes the next job at once, and a stopping worker waits for the Finisher instead.

        Renewal stops first: the write deletes the lease, and a renewal racing it must not mistake that for a loss.
        """
        self.leases.release(claim.job_id)
        entry = [
            claim.job_id,
            claim.token,
            outcome.kind,
            outcome.result.decode(),
            str(outcome.result_ttl_ms),
            repr(outcome.retry_due),
            claim.queue,
            queue_key(claim.queue),
            outcome.error,
            str(outcome.keep[0]),
            str(outcome.keep[1]),
            str(claim.job_try),
            claim.meta.get("tg", ""),
            outcome.function,
        ]
        self.finisher.hand_over(entry, time.monotonic() + self.lease_s)


def _producer_function(data: dict[str, Any]) -> str:
    """The function the producer named (an internal route for a broken job keeps it in its kwargs)."""
    function = data.get("f") or ""
    if function.startswith("qs:"):
        return str(data.get("k", {}).get("function") or function)
    return str(function)
