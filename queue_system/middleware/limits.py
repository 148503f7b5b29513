"""Admits limited jobs that the claim did not (see admission.py for where each check runs), and defines the
signal that postpones a job without counting a try.

Innermost in the chain: a cap slot is held only while the function runs, and a refused job never reaches it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from arq.worker import Retry as ArqRetry

from ..logging_setup import get_logger
from .base import CallNext, JobCall

if TYPE_CHECKING:
    from ..admission import Admission

log = get_logger("queue_system.limits")
# ctx entry our engine sets when lua/claim.lua admitted the job already.
CTX_ADMITTED = "qs_admitted"
# Under arq's own Worker, a job refused by a full cap is looked at again after this long (arq has no wake-ups).
CAP_RECHECK_S = 0.25


class Postponed(ArqRetry):
    """The job did not run (a limit was full) or asked to slow down: run it again after ``delay_s`` without
    counting a try. An arq ``Retry``, so arq's own Worker re-scores the job; our runner gives the try back."""

    def __init__(self, delay_s: float, reason: str) -> None:
        super().__init__(defer=delay_s)
        self.delay_s = delay_s
        self.reason = reason


class LimitsMiddleware:
    def __init__(self, admission: Admission, *, stock_worker: bool, slot_s: float) -> None:
        self.admission = admission
        self.stock_worker = stock_worker
        self.slot_s = slot_s  # how long an admitted job's cap slot lives unless renewed (our engine's lease)

    async def __call__(self, call: JobCall, call_next: CallNext) -> Any:
        if not self.admission.applies(call.spec, call.queue) or call.ctx.get(CTX_ADMITTED):
            return await call_next(call)
        rate = call.spec.rate_limit
        key = rate.key_for(call.args, call.kwargs) if rate is not None else ""
        # arq's own Worker never renews: the slot lives as long as arq lets the job run
        slot_s = call.spec.timeout_s + 10 if self.stock_worker else self.slot_s
        verdict = await self.admission.admit(call.job_id, call.queue, call.spec, key, slot_s)
        if verdict != 0:
            delay = CAP_RECHECK_S if verdict < 0 else verdict / 1000
            reason = "concurrency cap full" if verdict < 0 else "rate limit full"
            log.info("job.postponed", reason=reason, delay_s=round(delay, 3))
            raise Postponed(delay, reason)
        try:
            return await call_next(call)
        finally:
            if self.stock_worker:  # our engine's finish.lua gives the slots back, fenced by the lease
                await asyncio.shield(self.admission.release(call.job_id, call.queue))
