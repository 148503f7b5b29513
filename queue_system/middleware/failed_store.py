"""Records every final failure in the failed-job store, with the traceback and what is needed to replay it."""

from __future__ import annotations

import asyncio
import time
import traceback
from typing import Any

from arq.worker import Retry as ArqRetry

from ..errors import FunctionNotFound, JobTimeout, PermanentFailure, UndecodablePayload, WorkerLost
from ..failed import FailedJob
from ..logging_setup import get_logger
from ..serialization import qualified_type
from .base import CallNext, JobCall, Services

log = get_logger("queue_system.failed")


class FailedStoreMiddleware:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, call: JobCall, call_next: CallNext) -> Any:
        try:
            return await call_next(call)
        except (ArqRetry, asyncio.CancelledError):
            raise
        except Exception as exc:
            await asyncio.shield(self.services.failed.record(self._entry(call, exc)))
            raise

    def _entry(self, call: JobCall, exc: Exception) -> FailedJob:
        sensitive = call.sensitive or call.spec.sensitive
        return FailedJob(
            job_id=call.job_id,
            function=call.function_name or call.spec.name,
            queue=call.queue,
            args=["<redacted>"] if sensitive else list(_pick(call.recorded_args, call.args)),
            kwargs={"redacted": True} if sensitive else dict(_pick(call.recorded_kwargs, call.kwargs)),
            payload=self._payload(call),
            exc_type=qualified_type(exc),
            message=str(exc),
            traceback="".join(traceback.format_exception(exc)),
            tries=call.job_try,
            failed_at_ms=int(time.time() * 1000),
            enqueued_at_ms=call.enqueued_at_ms,
            started_at_ms=call.started_at_ms,
            priority=int(call.priority),
            tags=call.tags,
            reason=_reason(exc),
        )

    def _payload(self, call: JobCall) -> str:
        """The job re-encoded as queued, so a retry can write it back as is (still encrypted if sensitive)."""
        if call.undecodable:
            return ""
        args, kwargs = _pick(call.recorded_args, call.args), _pick(call.recorded_kwargs, call.kwargs)
        data = {
            "t": None,
            "f": call.function_name or call.spec.name,
            "a": list(args),
            "k": dict(kwargs),
            "et": call.enqueued_at_ms,
        }
        return self.services.codec.serialize(data, sensitive=call.sensitive or call.spec.sensitive).decode()


def _pick(recorded: Any, actual: Any) -> Any:
    return actual if recorded is None else recorded


def _reason(exc: BaseException) -> str:
    """A short, stable label for the failure, used in listings and alerts."""
    labels: list[tuple[type[BaseException], str]] = [
        (UndecodablePayload, "undecodable payload"),
        (FunctionNotFound, "function not found"),
        (WorkerLost, "worker lost"),
        (JobTimeout, "timeout"),
        (PermanentFailure, "permanent failure"),
    ]
    for exc_type, label in labels:
        if isinstance(exc, exc_type):
            return label
    return "tries exhausted"
