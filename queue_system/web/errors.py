"""Framework errors as HTTP answers with a message: never a 500 for a bad id, state, queue name or filter.

Each error class says its status (``QueueSystemError.http_status``): 404 for a missing job or schedule, 409 for a
state conflict, 503 when Redis is unreachable, 400 for any other refusal.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ..errors import QueueSystemError
from .pages import error_page


def wants_html(request: Request) -> bool:
    """A browser's page or form (which shows an error page), not an API call (which gets JSON)."""
    return "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path


async def _framework_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, QueueSystemError)
    if wants_html(request):
        return error_page(request, exc.http_status, str(exc))
    return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=exc.http_status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(QueueSystemError, _framework_error)
