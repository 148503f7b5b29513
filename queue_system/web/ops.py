"""``/healthz``, ``/readyz`` and ``/metrics`` (queue_system.health) served by the project's API app over the
dashboard's own QueueAPI, so ``queue-system serve`` has them without a second Redis connection.

health.py asks for its QueueAPI synchronously; the dashboard connects its QueueAPI on first use. Each endpoint
that reads Redis therefore connects first, and a Redis that cannot be reached answers 503 (never a 500), as
health.py does for a Redis that goes away later. ``/healthz`` does no I/O at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api import QueueAPI
from ..errors import RedisUnavailable
from ..health import ops_routes
from .context import WebContext

NO_IO = frozenset({"/healthz"})
Endpoint = Callable[[Request], Awaitable[Response]]


def ops_routes_for(ctx: WebContext) -> list[Route]:
    def current_api() -> QueueAPI:
        return ctx.connected_api()

    routes = []
    for route in ops_routes(current_api):
        endpoint = route.endpoint if route.path in NO_IO else _connecting(ctx, route)
        routes.append(Route(route.path, endpoint, methods=["GET"], include_in_schema=False))
    return routes


def _connecting(ctx: WebContext, route: Route) -> Endpoint:
    inner: Endpoint = route.endpoint
    text = route.path == "/metrics"

    async def endpoint(request: Request) -> Response:
        try:
            await ctx.api()
        except RedisUnavailable as exc:
            if text:
                return Response(f"redis unavailable: {exc}\n", status_code=503, media_type="text/plain")
            return JSONResponse({"status": "unavailable", "redis": str(exc)}, status_code=503)
        return await inner(request)

    return endpoint
