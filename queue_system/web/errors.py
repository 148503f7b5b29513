"""Framework errors as HTTP answers with a message: never a 500 for a bad id, state, queue name or filter."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..errors import (
    ConfigError,
    EnqueueError,
    JobAlreadyStarted,
    JobNotFound,
    JobStateConflict,
    QueueSystemError,
    RedisUnavailable,
    ScheduleNotFound,
    UnknownState,
)
from .pages import error_page

_STATUS: list[tuple[type[QueueSystemError], int]] = [
    (JobNotFound, 404),  # and BatchNotFound
    (ScheduleNotFound, 404),
    (JobStateConflict, 409),
    (JobAlreadyStarted, 409),  # a deferred job rescheduled or cancelled after it started
    (UnknownState, 400),
    (EnqueueError, 400),  # UnknownQueue, UnknownPriority, payload problems
    (ConfigError, 400),
    (RedisUnavailable, 503),
    (QueueSystemError, 400),
]


def status_of(exc: QueueSystemError) -> int:
    return next(code for kind, code in _STATUS if isinstance(exc, kind))


def wants_html(request: Request) -> bool:
    """A browser's page or form (which shows an error page), not an API call (which gets JSON)."""
    return "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path


async def _framework_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueueSystemError)
    if wants_html(request):
        return error_page(request, status_of(exc), str(exc))
    return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=status_of(exc))


def install(app: FastAPI) -> None:
    app.add_exception_handler(QueueSystemError, _framework_error)
