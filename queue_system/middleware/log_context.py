"""Binds job id, function, queue and try to every log line of an attempt, and logs the attempt's outcome."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from arq.worker import Retry as ArqRetry

from ..logging_setup import JOB_LOG_FIELDS, get_logger
from .base import CallNext, JobCall

log = get_logger("queue_system.job")


class LogContextMiddleware:
    def __init__(self) -> None:
        # Asked once (the worker configures logging before it builds its chain): a filtered debug line still cost
        # a sixth of a job's Python before its start, in a worker idle between jobs.
        enabled_for = getattr(log, "is_enabled_for", None)
        self.log_starts = enabled_for(logging.DEBUG) if enabled_for is not None else True

    async def __call__(self, call: JobCall, call_next: CallNext) -> Any:
        fields = {
            "job_id": call.job_id,
            "function": call.function_name or call.spec.name,
            "queue": call.queue,
            "job_try": call.job_try,
        }
        token = JOB_LOG_FIELDS.set(fields)
        try:
            started = time.perf_counter()
            if self.log_starts:
                log.debug("job.started")
            try:
                result = await call_next(call)
            except ArqRetry:
                raise
            except asyncio.CancelledError:
                log.info("job.cancelled", duration_ms=_ms_since(started))
                raise
            except Exception as exc:
                log.error(
                    "job.failed", duration_ms=_ms_since(started), error=f"{type(exc).__name__}: {exc}", exc_info=exc
                )
                raise
            log.info("job.completed", duration_ms=_ms_since(started))
            return result
        finally:
            JOB_LOG_FIELDS.reset(token)


def _ms_since(started: float) -> float:
    """Milliseconds to the microsecond (truncated: ``round`` to three places cost a correctly rounded conversion)."""
    return int((time.perf_counter() - started) * 1_000_000) / 1000
