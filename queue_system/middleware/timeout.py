"""Enforces the job's own timeout inside the chain, so a timeout is seen (and retried) like any failure.

arq's timeout wraps the whole chain and would skip our retry and failed-store handling; the worker gives arq a
slightly larger timeout as a safety net only. The deadlines of all running jobs share one timer (deadlines.py):
a timer per job was a tenth of a no-op job's cost. Only the job's own deadline becomes :class:`JobTimeout`; a
``TimeoutError`` the job raised itself stays what it is.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..deadlines import Deadlines
from ..errors import JobTimeout
from .base import CallNext, JobCall


class TimeoutMiddleware:
    def __init__(self) -> None:
        self.deadlines = Deadlines()

    async def __call__(self, call: JobCall, call_next: CallNext) -> Any:
        timeout = call.spec.timeout_s
        deadline = self.deadlines.start(timeout)
        try:
            result = await call_next(call)
        except BaseException as exc:
            if self.deadlines.end(deadline, cancelled=isinstance(exc, asyncio.CancelledError)):
                raise JobTimeout(f"job exceeded its timeout of {timeout:g}s") from None
            raise
        self.deadlines.end(deadline, cancelled=False)
        return result
