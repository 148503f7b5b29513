"""Enforces the job's own timeout inside the chain, so a timeout is seen (and retried) like any failure.

arq's timeout wraps the whole chain and would skip our retry and failed-store handling; the worker gives arq a
slightly larger timeout as a safety net only.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import JobTimeout
from .base import CallNext, JobCall


class TimeoutMiddleware:
    async def __call__(self, call: JobCall, call_next: CallNext) -> Any:
        timeout = call.spec.timeout_s
        try:
            async with asyncio.timeout(timeout):  # unlike wait_for, no extra task per job
                return await call_next(call)
        except TimeoutError:
            raise JobTimeout(f"job exceeded its timeout of {timeout:g}s") from None
