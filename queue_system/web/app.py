"""Building the apps: the dashboard (pages + JSON API + live stream) as one ASGI app that mounts anywhere with one
call, and the project's API app with the dashboard at ``/admin/queues``.

    app = FastAPI()
    mount_dashboard(app)                          # /admin/queues, configuration from QS_* variables
    app = create_app()                            # what `queue-system serve` runs
    app = create_app(routers=[health_router])     # further routers (metrics, health) at the root

Batches, schedules, deferred jobs, workers and limits are part of every dashboard (their JSON routers under
``/api/v1``, their pages in the menu); further routers come through ``api_routers`` and ``pages``. The project's
API app always serves ``/healthz``, ``/readyz`` and ``/metrics`` (queue_system.health) over the dashboard's
QueueAPI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.applications import Starlette

from ..api import QueueAPI
from ..config import QueueConfig
from . import (
    api_batches,
    api_schedules,
    api_workers,
    errors,
    pages_batches,
    pages_schedules,
    pages_workers,
    routes_api,
    routes_auth,
    routes_pages,
    sse,
)
from .context import NavLink, WebContext
from .ops import ops_routes_for
from .pages import error_page

MOUNT_PATH = "/admin/queues"
TITLE = "queue-system"
BUILT_IN_API = (api_batches.router, api_schedules.router, api_workers.router)
BUILT_IN_PAGES = (pages_batches.router, pages_schedules.router, pages_workers.router)


def create_dashboard(
    config: QueueConfig | None = None,
    *,
    api: QueueAPI | None = None,
    api_routers: Sequence[APIRouter] = (),
    pages: Sequence[tuple[NavLink, APIRouter]] = (),
) -> FastAPI:
    """The dashboard app: pages at ``/``, the JSON API at ``/api/v1`` (OpenAPI at ``/openapi.json``, docs at
    ``/docs``), live counts at ``/stream``, static files at ``/static``. ``api_routers`` join the JSON API;
    ``pages`` add server-rendered pages (their routers render with ``queue_system.web.pages.render``) and
    their menu entries."""
    ctx = WebContext.from_config(config or QueueConfig.from_env(), api)
    ctx.nav[-1:-1] = [link for link, _router in pages]  # before the API link

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await ctx.close()

    app = FastAPI(title=f"{TITLE} HTTP API", version="1", lifespan=lifespan)
    app.state.qs_web = ctx
    errors.install(app)
    app.add_exception_handler(HTTPException, _login_redirect)
    app.include_router(routes_api.router)
    for router in (*BUILT_IN_API, *api_routers):
        app.include_router(router, prefix="/api/v1")
    app.include_router(routes_auth.router)
    app.include_router(sse.router)
    app.include_router(routes_pages.router)
    for router in BUILT_IN_PAGES:
        app.include_router(router)
    for _link, router in pages:
        app.include_router(router)
    static = resources.files(__package__).joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    return app


async def _login_redirect(request: Request, exc: Exception) -> Response:
    """A browser asking for a page without a session goes to the login form; API callers get the 401."""
    assert isinstance(exc, HTTPException)
    if not errors.wants_html(request):
        return await http_exception_handler(request, exc)
    if exc.status_code == 401:
        return RedirectResponse(str(request.url_for("login_form")), status_code=303)
    return error_page(request, exc.status_code, str(exc.detail))


def mount_dashboard(app: Starlette, path: str = MOUNT_PATH, config: QueueConfig | None = None) -> FastAPI:
    """Mount the dashboard in any Starlette/FastAPI app; returns the dashboard app (its Redis connection opens
    on first use; ``await dashboard.state.qs_web.close()`` closes it)."""
    dashboard = create_dashboard(config)
    app.mount(path, dashboard)
    return dashboard


def create_app(config: QueueConfig | None = None, *, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The project's API app: ``/healthz``, ``/readyz`` and ``/metrics``, then ``routers`` at its root, and the
    dashboard at /admin/queues."""
    config = config or QueueConfig.from_env()
    dashboard = create_dashboard(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await dashboard.state.qs_web.close()

    app = FastAPI(title=TITLE, lifespan=lifespan)
    app.state.qs_dashboard = dashboard
    app.router.routes.extend(ops_routes_for(dashboard.state.qs_web))
    for router in routers:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(f"{MOUNT_PATH}/", status_code=307)

    app.mount(MOUNT_PATH, dashboard)
    return app
