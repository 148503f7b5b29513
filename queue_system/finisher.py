"""Writing attempts' outcomes to Redis (lua/finish.lua), in batches, owning each one until it is written.

Outcomes that arrive while a call is in flight go together in the next one, so a busy worker pays one round trip
per batch instead of one per job. The Finisher, not the job's task, owns the write: the worker hands an outcome
over (``hand_over``) and its job task ends at once, without waiting for the write (a task of its own per job, and
later a future the job's task waited on, were each a twentieth of a no-op job's cost); a stopping worker waits for
the Finisher instead (``wait_written``). A Redis outage is retried with backoff until each outcome's deadline (the
end of the job's lease: after it, another worker may own the job and the fenced write would be refused anyway); an
outcome past its deadline is abandoned and logged. An outcome the script refuses (the attempt lost its lease:
fencing) is logged and counted here too.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import orjson

from .config import QueueConfig
from .connection import REDIS_DOWN_ERRORS
from .logging_setup import get_logger
from .scripts import Scripts

log = get_logger("queue_system.worker")
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 1.0


@dataclass(slots=True)
class _Pending:
    entry: list[str]  # one outcome in finish.lua's form: [job id, token, outcome, ...]
    deadline: float  # time.monotonic() after which it is abandoned


class Finisher:
    BATCH = 500

    def __init__(self, scripts: Scripts, config: QueueConfig) -> None:
        self.scripts = scripts
        self.config = config
        self.pending: list[_Pending] = []
        self.flushing: asyncio.Task[None] | None = None
        self.refused = 0  # outcomes of attempts that had lost their lease

    def hand_over(self, entry: list[str], deadline: float) -> None:
        """Queue one outcome to write; nobody waits for it (a refusal, an abandonment or a script error is logged
        here)."""
        self.pending.append(_Pending(entry, deadline))
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush())

    async def wait_written(self, timeout: float) -> None:
        """Until every queued outcome is written or abandoned (shutdown), at most ``timeout`` seconds."""
        flushing = self.flushing
        if flushing is not None and not flushing.done():
            await asyncio.wait([flushing], timeout=timeout)

    async def _flush(self) -> None:
        delay = RETRY_FIRST_S
        while self.pending:
            batch, self.pending = self.pending[: self.BATCH], self.pending[self.BATCH :]
            try:
                answers = await self._write([pending.entry for pending in batch])
            except REDIS_DOWN_ERRORS as exc:
                self.pending[:0] = self._in_time(batch, exc)  # in front: outcomes keep their order
                if self.pending:
                    log.warning("job.finish_retrying", outcomes=len(self.pending), error=str(exc), retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                continue
            except Exception as exc:  # not an outage (a script error, a bug): logged, the batch dropped
                log.error(
                    "job.finish_failed",
                    outcomes=len(batch),
                    job_ids=[pending.entry[0] for pending in batch[:20]],
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            delay = RETRY_FIRST_S
            for pending, answer in zip(batch, answers, strict=True):
                if not answer:
                    self._refused(pending.entry)

    async def _write(self, entries: list[list[str]]) -> list[int]:
        config = self.config
        answers: list[int] = await self.scripts.finish(
            keys=[], args=[config.prefix, int(time.time() * 1000), config.events_maxlen, orjson.dumps(entries)]
        )
        return answers

    def _refused(self, entry: list[str]) -> None:
        self.refused += 1
        log.warning(
            "job.outcome_discarded",
            job_id=entry[0],
            outcome=entry[2],
            reason="lease lost: the job was taken over by a newer attempt",
        )

    @staticmethod
    def _in_time(batch: list[_Pending], exc: BaseException) -> list[_Pending]:
        """The outcomes of a failed write that may still be retried; the others are abandoned (logged)."""
        now = time.monotonic()
        keep = []
        for pending in batch:
            if now > pending.deadline:
                job_id, outcome = pending.entry[0], pending.entry[2]
                log.error("job.finish_abandoned", job_id=job_id, outcome=outcome, error=str(exc))
            else:
                keep.append(pending)
        return keep
