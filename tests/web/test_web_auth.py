"""Logging in and out, CSRF on every state change made with a cookie, roles enforced on the server, the login
rate limit, no default user, and the dashboard mounted inside another app with one call."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse

from queue_system import Client, JobState, QueueAPI, QueueConfig
from queue_system.web import create_app, create_dashboard, mount_dashboard
from queue_system.web.auth import Principal
from queue_system.web.context import NavLink
from queue_system.web.pages import render
from queue_system.web.security import viewer
from tests.support.queue_fixtures import run_burst
from tests.web.conftest import ADMIN, ADMIN_PASSWORD, ADMIN_TOKEN, VIEWER, VIEWER_PASSWORD, Http, web_settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def log_in(http: httpx.AsyncClient, user: str, password: str, prefix: str = "") -> httpx.Response:
    form = await http.get(f"{prefix}/login")
    token = CSRF.search(form.text)
    assert token, form.text
    return await http.post(f"{prefix}/login", data={"username": user, "password": password, "csrf": token[1]})


async def page_csrf(http: httpx.AsyncClient, path: str = "/") -> str:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    token = CSRF.search(page.text)
    assert token
    return token[1]


async def test_login_session_csrf_and_logout(dashboard: FastAPI, client: Client) -> None:
    async with Http(dashboard).client() as http:
        assert (await http.get("/", headers={"accept": "text/html"})).headers["location"].endswith("/login")
        refused = await http.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD})
        assert refused.status_code == 403  # the login form needs its CSRF token too
        wrong = await log_in(http, ADMIN, "not-the-password")
        assert "error=" in wrong.headers["location"]
        assert (await log_in(http, ADMIN, ADMIN_PASSWORD)).status_code == 303
        token = await page_csrf(http)
        assert (await http.get("/api/v1/me")).json() == {"name": ADMIN, "role": "admin", "via": "session"}

        no_csrf = await http.post("/queues/alpha/pause")
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
        assert (await http.post("/api/v1/queues/alpha/pause")).status_code == 403
        bad_csrf = await http.post("/queues/alpha/pause", data={"csrf": "forged"})
        assert bad_csrf.status_code == 403
        assert not await QueueAPI(client).is_paused("alpha")
        assert (await http.post("/queues/alpha/pause", data={"csrf": token})).status_code == 303
        assert await QueueAPI(client).is_paused("alpha")
        assert (await http.post("/api/v1/queues/alpha/resume", headers={"x-csrf-token": token})).status_code == 200
        elsewhere = await http.post(
            "/queues/alpha/pause", data={"csrf": token}, headers={"referer": "http://evil.test/"}
        )
        assert elsewhere.headers["location"].startswith("http://dash.test/queues/alpha?flash=")  # never off-site
        job = await client.enqueue_job("echo", 1, _queue="alpha")
        by_id = await http.get("/queues/alpha", params={"q": job.job_id})
        assert by_id.headers["location"] == f"http://dash.test/jobs/{job.job_id}"
        missing = await http.get("/jobs/no-such-job", headers={"accept": "text/html"})
        assert missing.status_code == 404 and "no job with id" in missing.text and "<html" in missing.text

        assert (await http.post("/logout", data={"csrf": token})).status_code == 303
        assert (await http.get("/api/v1/me")).status_code == 401


async def test_viewer_session_is_refused_actions(dashboard: FastAPI, client: Client) -> None:
    async with Http(dashboard).client() as http:
        await log_in(http, VIEWER, VIEWER_PASSWORD)
        page = await http.get("/queues/alpha")
        assert "disabled" in page.text  # the buttons say so, and the server enforces it
        token = CSRF.search(page.text)
        assert token
        refused = await http.post("/queues/alpha/pause", data={"csrf": token[1]})
        assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
        assert not await QueueAPI(client).is_paused("alpha")


async def test_login_attempts_are_rate_limited_across_app_instances(web_config: QueueConfig) -> None:
    """Two app instances (two processes' worth: each its own Redis client) share one count of failed logins."""
    config = web_config.model_copy(update={"web_login_attempts": 3, "web_login_window_s": 5.0})
    clients = [await Client.connect(config), await Client.connect(config)]
    apps = [create_dashboard(config, api=QueueAPI(c)) for c in clients]
    try:
        async with Http(apps[0]).client() as first, Http(apps[1]).client() as second:
            for _ in range(3):  # right passwords are not failures: they leave no trace in the count
                assert (await log_in(second, ADMIN, ADMIN_PASSWORD)).status_code == 303
            for http in (first, second, first):
                assert "error=" in (await log_in(http, ADMIN, "guess")).headers["location"]
            for http in (first, second):  # the third failure was spread over both: each refuses, even the right one
                blocked = await log_in(http, ADMIN, ADMIN_PASSWORD)
                assert blocked.status_code == 429 and "try again" in blocked.json()["detail"]
            other = await log_in(second, VIEWER, VIEWER_PASSWORD)  # another user from the same address is refused
            assert other.status_code == 429, "the address's count is shared too"
            deadline = time.monotonic() + 30  # the window slides past the failures (refused tries are not counted)
            while (answer := await log_in(first, ADMIN, ADMIN_PASSWORD)).status_code == 429:
                assert time.monotonic() < deadline, "the failures never left the window"
                await asyncio.sleep(0.2)
            assert answer.status_code == 303
    finally:
        for c in clients:
            await c.close()


async def test_no_users_means_no_login_and_a_hint(config: QueueConfig, client: Client) -> None:
    app = create_dashboard(config, api=QueueAPI(client))
    async with Http(app).client() as http:
        page = await http.get("/login")
        assert "queue-system web user NAME --role admin" in page.text
        assert (await log_in(http, "admin", "admin")).headers["location"].endswith("error=wrong+user+name+or+password")
        assert (await http.get("/api/v1/queues")).status_code == 401


async def test_mounts_in_any_app_and_in_the_project_app(config: QueueConfig) -> None:
    settings = config.model_copy(update=web_settings())
    host = FastAPI()
    mounted = mount_dashboard(host, config=settings)
    async with Http(host).client() as http:
        assert (await log_in(http, ADMIN, ADMIN_PASSWORD, "/admin/queues")).status_code == 303
        assert (await http.get("/admin/queues/api/v1/queues")).status_code == 200
        assert (await http.get("/admin/queues/")).status_code == 200
        assert "/admin/queues/static/dashboard.css" in (await http.get("/admin/queues/")).text
    await mounted.state.qs_web.close()
    project = create_app(settings)
    async with Http(project).client() as http:
        assert (await http.get("/")).headers["location"] == "/admin/queues/"
        assert (await http.get("/admin/queues/openapi.json")).status_code == 200
    await project.state.qs_dashboard.state.qs_web.close()


async def test_later_sections_plug_in_as_routers(web_config: QueueConfig, client: Client) -> None:
    api_router = APIRouter()

    @api_router.get("/widgets")
    async def widgets() -> list[str]:
        return ["w1"]

    page_router = APIRouter()

    @page_router.get("/widgets", response_class=HTMLResponse)
    async def widgets_page(request: Request, principal: Annotated[Principal, Depends(viewer)]) -> HTMLResponse:
        return render(request, "overview.html", principal, rows=[], states=[])

    app = create_dashboard(
        web_config,
        api=QueueAPI(client),
        api_routers=[api_router],
        pages=[(NavLink("Widgets", "/widgets"), page_router)],
    )
    async with Http(app).client(ADMIN_TOKEN) as http:
        assert (await http.get("/api/v1/widgets")).json() == ["w1"]
        page = await http.get("/widgets")
        assert page.status_code == 200 and 'href="http://dash.test/widgets">Widgets</a>' in page.text
        assert "/api/v1/widgets" in (await http.get("/openapi.json")).json()["paths"]


async def test_failed_page_forms_retry_and_flush_by_filter(
    dashboard: FastAPI, client: Client, app_settings: type
) -> None:
    for spec in app_settings.qs_specs:
        client.register(spec.name, spec.info)
    alpha = [(await client.enqueue_job("always_fails", f"a{i}", _queue="alpha")).job_id for i in range(2)]
    beta = await client.enqueue_job("always_fails", "b", _queue="beta")
    await run_burst(app_settings)
    api = QueueAPI(client)
    async with Http(dashboard).client() as http:
        assert (await log_in(http, ADMIN, ADMIN_PASSWORD)).status_code == 303
        token = await page_csrf(http, "/failed")
        retried = await http.post("/failed/retry", data={"csrf": token, "queue": "alpha"})
        assert retried.status_code == 303 and "retried+2" in retried.headers["location"]
        assert {(await api.job(job_id)).state for job_id in alpha} == {JobState.WAITING}
        too_long = await http.post("/failed/flush", data={"csrf": token, "queue": "q" * 101})
        assert too_long.status_code == 422  # the form's bounds hold through the shared dependency
        flushed = await http.post("/failed/flush", data={"csrf": token, "queue": "beta"})
        assert flushed.status_code == 303 and "forgot+1" in flushed.headers["location"]
        assert await client.failed.count() == 0
        assert (await api.job(beta.job_id)).state is JobState.FAILED  # forgetting the entry keeps the job
