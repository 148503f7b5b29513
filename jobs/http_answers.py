"""The answer shape the seeds' clients expect from the project's endpoints, errors included.

Every answer is ``{"success": bool, "message"?: str, ...}``. A router built with ``answering_route(errors)``
turns the domain errors it is told about into that shape with their HTTP status (404 for an unknown blast or
batch, 409 for a state conflict, 422 for bad input), and FastAPI's request validation errors into a 422 with a
readable ``message`` and the field ``errors``, so a client never parses FastAPI's ``detail`` list and an
expected refusal is never a 500. The mapping is per router (route class), not app-wide: the dashboard's own API
keeps its answers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

ErrorStatuses = Mapping[type[Exception], int]


def answer(message: str | None = None, *, http_status: int = 200, **fields: Any) -> JSONResponse:
    """``{"success": http_status < 400, "message"?: message, **fields}`` with ``http_status``."""
    body: dict[str, Any] = {"success": http_status < 400}
    if message is not None:
        body["message"] = message
    body.update(fields)
    return JSONResponse(jsonable_encoder(body), status_code=http_status)


def answering_route(errors: ErrorStatuses) -> type[APIRoute]:
    """A route class answering ``errors`` (checked in order, subclasses first) and validation errors as above."""
    known = tuple(errors.items())

    class AnsweringRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    details = jsonable_encoder(exc.errors())
                    return answer(_validation_message(details), http_status=422, errors=details)
                except Exception as exc:
                    for kind, status in known:
                        if isinstance(exc, kind):
                            return answer(str(exc), http_status=status)
                    raise

            return route

    return AnsweringRoute


def _validation_message(details: list[dict[str, Any]]) -> str:
    parts = []
    for detail in details[:10]:
        where = ".".join(str(p) for p in detail.get("loc", ()) if p != "body")
        parts.append(f"{where}: {detail.get('msg', 'invalid')}" if where else str(detail.get("msg", "invalid")))
    more = f" (and {len(details) - 10} more)" if len(details) > 10 else ""
    return "invalid request: " + "; ".join(parts) + more
