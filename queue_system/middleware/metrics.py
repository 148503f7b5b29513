"""Counts each attempt's start and outcome, and times it, for the metrics (job_stats.py).

Placed outside the retries middleware, so it sees what the attempt came to: ``arq.Retry`` means the job will be
tried again (retried), any other exception is final (failed). A cancelled attempt (shutdown, lost lease, abort)
is started but has no outcome here: it is given back, or recorded as aborted in the queue's counts.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from arq.worker import Retry as ArqRetry

from ..job_stats import STATS, JobStats
from .base import CallNext, JobCall


class MetricsMiddleware:
    def __init__(self, stats: JobStats = STATS) -> None:
        self.stats = stats

    async def __call__(self, call: JobCall, call_next: CallNext) -> Any:
        function = call.function_name or call.spec.name
        self.stats.record(call.queue, function, "started")
        if call.job_try == 1 and call.enqueued_at_ms:
            self.stats.observe_wait(call.queue, (call.started_at_ms - call.enqueued_at_ms) / 1000)
        began = time.perf_counter()
        outcome = "completed"
        try:
            return await call_next(call)
        except asyncio.CancelledError:
            outcome = ""
            raise
        except ArqRetry:
            outcome = "retried"
            raise
        except Exception:
            outcome = "failed"
            raise
        finally:
            if outcome:
                self.stats.record(call.queue, function, outcome)
                self.stats.observe(call.queue, function, outcome, time.perf_counter() - began)
