"""Turns failures into retries by the job's policy (arq itself retries only on its ``Retry``).

A retryable exception with tries left becomes ``arq.Retry(defer=backoff)``; anything else propagates and is final.
Attempts whose worker died count as tries; a job that lost its worker ``lost_attempts_budget`` times, or whose
tries were all used up by lost attempts, fails as :class:`WorkerLost` without running again, instead of looping.
:class:`SlowDown` is no failure: it becomes a postponement that counts no try (middleware.limits.Postponed).
"""

from __future__ import annotations

import asyncio
from typing import Any

from arq.worker import Retry as ArqRetry

from ..errors import PermanentFailure, Retry, SlowDown, WorkerLost
from ..logging_setup import get_logger
from .base import CallNext, JobCall
from .limits import Postponed

log = get_logger("queue_system.retries")


class RetriesMiddleware:
    def __init__(self, *, lost_attempts_budget: int) -> None:
        self.lost_attempts_budget = lost_attempts_budget

    async def __call__(self, call: JobCall, call_next: CallNext) -> Any:
        spec = call.spec
        if call.lost_attempts >= self.lost_attempts_budget or call.job_try > spec.max_tries:
            raise WorkerLost(
                f"worker lost: the job's worker died during {call.lost_attempts} attempt(s) "
                f"(try {call.job_try} of {spec.max_tries}, crash budget {self.lost_attempts_budget})"
            )
        try:
            return await call_next(call)
        except (asyncio.CancelledError, Postponed):
            raise
        except SlowDown as exc:  # the remote asked us to wait: not a failure, no try counted
            log.info("job.slow_down", retry_after_s=exc.retry_after, reason=str(exc))
            raise Postponed(exc.retry_after, str(exc)) from exc
        except (Retry, ArqRetry) as exc:
            delay = exc.defer if isinstance(exc, Retry) else (exc.defer_score or 0) / 1000
            return self._retry_or_fail(call, exc, delay, requested=True)
        except Exception as exc:
            if not spec.is_retryable(exc):
                raise
            return self._retry_or_fail(call, exc, spec.backoff.delay(call.job_try), requested=False)

    def _retry_or_fail(self, call: JobCall, exc: Exception, delay: float, *, requested: bool) -> Any:
        if call.job_try >= call.spec.max_tries:
            if requested:
                raise PermanentFailure(f"retry requested on the last allowed try ({call.spec.max_tries})") from exc
            raise exc
        log.warning(
            "job.retry_scheduled",
            delay_s=round(delay, 3),
            next_try=call.job_try + 1,
            max_tries=call.spec.max_tries,
            error=f"{type(exc).__name__}: {exc}",
        )
        raise ArqRetry(defer=delay) from exc
