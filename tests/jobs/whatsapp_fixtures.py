"""Fixtures for the WhatsApp tests: the Cloud API stand-in on loopback, a client for it, and test data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from jobs.db import Database
from jobs.db.whatsapp import TemplateStatus, WhatsAppTemplate
from jobs.whatsapp.client import CloudApiClient, CloudApiSettings

from .cloud_api import PHONE_NUMBER_ID, TOKEN, VERSION, WABA_ID, CloudApi, start_cloud_api

# Valid Indonesian mobile numbers (Telkomsel's 0812 range), distinct per index.
BASE_NUMBER = 6281200000000


def number(i: int) -> str:
    return f"+{BASE_NUMBER + i}"


@pytest.fixture
async def cloud_api() -> AsyncIterator[tuple[CloudApi, str]]:
    """A fresh Cloud API stand-in and its base URL."""
    api = CloudApi()
    server = await start_cloud_api(api)
    try:
        yield api, server.url
    finally:
        await server.stop()


@pytest.fixture
async def api_client(cloud_api: tuple[CloudApi, str]) -> AsyncIterator[CloudApiClient]:
    client = CloudApiClient(cloud_settings(cloud_api[1]))
    try:
        yield client
    finally:
        await client.close()


def cloud_settings(url: str, token: str = TOKEN) -> CloudApiSettings:
    return CloudApiSettings(url, token, PHONE_NUMBER_ID, WABA_ID, VERSION, timeout_s=5)


async def add_template(
    db: Database,
    status: TemplateStatus = TemplateStatus.APPROVED,
    *,
    name: str = "",
    language: str = "id",
    body: str | None = None,
) -> WhatsAppTemplate:
    """A template row; ``body`` None is one not synced yet (its variables are not checked)."""
    template = WhatsAppTemplate(
        name=name or f"promo_{uuid.uuid4().hex[:8]}", language=language, category="MARKETING", status=status, body=body
    )
    async with db.session() as session, session.begin():
        session.add(template)
    return template
