"""Fixtures for the dashboard and HTTP API: configured users and tokens, the app over the test's Redis, and
httpx clients through the ASGI transport (browser tests start a real uvicorn on loopback, see server.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import cache

import httpx
import pytest
from fastapi import FastAPI

from queue_system import Client, QueueAPI, QueueConfig
from queue_system.web import create_dashboard
from queue_system.web.auth import hash_password, token_digest
from tests.web.server import LiveServer

ADMIN, ADMIN_PASSWORD = "ada", "ada-password-1"
VIEWER, VIEWER_PASSWORD = "vic", "vic-password-1"
ADMIN_TOKEN, VIEWER_TOKEN = "admin-token-" + "a" * 32, "viewer-token-" + "v" * 32


@cache
def users_line() -> str:
    """Hashing costs tens of milliseconds: once per session."""
    return f"{ADMIN}:admin:{hash_password(ADMIN_PASSWORD)};{VIEWER}:viewer:{hash_password(VIEWER_PASSWORD)}"


def tokens_line() -> str:
    return f"robot:admin:{token_digest(ADMIN_TOKEN)};reader:viewer:{token_digest(VIEWER_TOKEN)}"


def web_settings(**extra: object) -> dict[str, object]:
    return {
        "web_users": users_line(),
        "web_tokens": tokens_line(),
        "web_secret_key": "test-secret-key",
        "web_redact_fields": ("email",),
        **extra,
    }


@pytest.fixture
def web_config(config: QueueConfig) -> QueueConfig:
    return config.model_copy(update=web_settings())


@pytest.fixture
def dashboard(web_config: QueueConfig, client: Client) -> FastAPI:
    return create_dashboard(web_config, api=QueueAPI(client))


@dataclass
class Http:
    """One app, called as the admin token, the viewer token or anonymously."""

    app: FastAPI

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://dash.test", headers=headers)


@pytest.fixture
async def admin(dashboard: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with Http(dashboard).client(ADMIN_TOKEN) as http:
        yield http


@pytest.fixture
async def viewer(dashboard: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with Http(dashboard).client(VIEWER_TOKEN) as http:
        yield http


@pytest.fixture
async def anonymous(dashboard: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with Http(dashboard).client() as http:
        yield http


@pytest.fixture
def live_dashboard(web_config: QueueConfig) -> Iterator[LiveServer]:
    """The dashboard alone, served by uvicorn on loopback (its own Redis connection, in the server's loop)."""
    with LiveServer(create_dashboard(web_config)) as server:
        yield server
