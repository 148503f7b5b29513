"""``/healthz``, ``/readyz`` and ``/metrics`` as a Starlette router, for the project's API app to mount.

    from queue_system.health import ops_router
    app.mount("/", ops_router(lambda: app.state.queue_api))     # or standalone: ops_app(config)

* ``/healthz`` is liveness: the process answers (no I/O, so a slow Redis never gets a healthy API killed);
* ``/readyz`` is readiness: Redis answers, else 503; its body lists the queues that no live worker serves;
* ``/metrics`` is the whole system's Prometheus metrics, read from Redis (metrics.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router

from .api import QueueAPI
from .config import QueueConfig
from .connection import REDIS_DOWN_ERRORS
from .heartbeat import workers_by_queue
from .metrics import CONTENT_TYPE, exposition

ApiProvider = Callable[[], QueueAPI]


def ops_routes(get_api: ApiProvider) -> list[Route]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        api = get_api()
        try:
            await api.redis.ping()
            served = workers_by_queue(await api.workers())
            unserved = [q for q in await api.queues() if not served.get(q)]
        except REDIS_DOWN_ERRORS as exc:
            return JSONResponse({"status": "unavailable", "redis": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok", "redis": "ok", "queues_without_workers": unserved})

    async def metrics(_request: Request) -> Response:
        try:
            body = await exposition(get_api())
        except REDIS_DOWN_ERRORS as exc:
            return Response(f"redis unavailable: {exc}\n", status_code=503, media_type="text/plain")
        return Response(body, media_type=CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def ops_router(get_api: ApiProvider) -> Router:
    return Router(routes=ops_routes(get_api))


def ops_app(config: QueueConfig | None = None) -> Starlette:
    """The three endpoints as an app of their own, owning its QueueAPI (a sidecar, or tests)."""
    holder: dict[str, QueueAPI] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        holder["api"] = await QueueAPI.connect(config)
        try:
            yield
        finally:
            await holder["api"].close()

    return Starlette(routes=ops_routes(lambda: holder["api"]), lifespan=lifespan)
