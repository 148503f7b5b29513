"""The project's API app as ``queue-system serve`` builds it (the dashboard's tokens and roles, ``jobs.api``
mounted as its extension), driven with httpx over the ASGI transport; shared by the endpoint tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobs import api as project_api
from jobs.config import AppSettings
from queue_system import QueueConfig
from queue_system.web import create_app
from queue_system.web.extensions import install

from ..web.conftest import ADMIN_TOKEN, VIEWER_TOKEN, web_settings

AS_ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AS_VIEWER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


@pytest.fixture
async def project_http(config: QueueConfig, app_settings: AppSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(config.model_copy(update=web_settings()))
    cleanups = install(app, [("jobs", lambda app: project_api.install(app, app_settings))])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jobs.test", headers=AS_ADMIN) as session:
        yield session
    for cleanup in cleanups:
        await cleanup()
    await app.state.qs_web.close()


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """A ``{"success": true, ...}`` answer with this status; its body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    return body


async def refused(response: httpx.Response, status: int) -> str:
    """A ``{"success": false, "message": ...}`` answer with this status; its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["message"], body
    message: str = body["message"]
    return message
