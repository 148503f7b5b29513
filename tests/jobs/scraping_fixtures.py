"""Fixtures for the scraper system's tests: the fixture shop and a webhook receiver on loopback, the scraper's
settings pointing at them, its tables emptied on each backend, and worker settings for its jobs.

Test modules import the fixtures they use from here (pytest finds fixtures in a test module's namespace).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, text

from jobs.config import AppSettings
from jobs.db import Database
from jobs.db.models import Order, Product, ScrapeBatch, Shop
from jobs.scraping import SCRAPER_JOBS, scraping_hooks
from jobs.scraping.runtime import ScrapingRuntime, open_runtime
from jobs.scraping.settings import ScraperSettings
from queue_system import QueueConfig, worker_settings

from .conftest import DatabaseTarget
from .helpers import Sink
from .scraping_http import LoopbackServer
from .scraping_site import FixtureShop, WebhookReceiver

WEBHOOK_SECRET = "whsec-test-0123456789"
USER_AGENTS = ("TestBrowser/1.0 (A)", "TestBrowser/1.0 (B)", "TestBrowser/1.0 (C)")


@dataclass
class Site:
    shop: FixtureShop
    server: LoopbackServer

    @property
    def url(self) -> str:
        return self.server.url

    def product_url(self, item_id: int, mode: str = "") -> str:
        prefix = f"/{mode}" if mode else ""
        return f"{self.url}{prefix}/product/{item_id % 3 + 1}/{item_id}"


@pytest.fixture(scope="session")
async def _site_server() -> AsyncIterator[Site]:
    shop = FixtureShop()
    server = await LoopbackServer(shop).start()
    try:
        yield Site(shop, server)
    finally:
        await server.stop()


@pytest.fixture
def site(_site_server: Site) -> Site:
    """The fixture shop, its behaviour and request log reset for the test."""
    _site_server.shop.reset()
    return _site_server


@dataclass
class Receiver:
    app: WebhookReceiver
    server: LoopbackServer

    def url(self, path: str) -> str:
        return f"{self.server.url}{path}"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = WebhookReceiver(WEBHOOK_SECRET)
    server = await LoopbackServer(app).start()
    try:
        yield Receiver(app, server)
    finally:
        await server.stop()


@pytest.fixture
async def scraper_db(database_target: DatabaseTarget) -> AsyncIterator[Database]:
    """The migrated database of one backend, the scraper's tables and search index emptied."""
    db = Database(database_target.url, schema=database_target.schema)
    async with db.session() as session, session.begin():
        for model in (ScrapeBatch, Order, Product, Shop):
            await session.execute(delete(model))
        await session.execute(text("DELETE FROM product_search"))
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def scraper_settings(site: Site, tmp_path: Path) -> ScraperSettings:
    return ScraperSettings(
        base_url=site.url,
        timeout_s=0.5,
        host_rate_per_s=0,
        host_concurrency=8,
        user_agents=USER_AGENTS,
        robots_ttl_s=60,
        chunk_size=25,
        webhook_secret=WEBHOOK_SECRET,
        webhook_rate_per_s=0,
        temp_roots=(tmp_path / "temp-root",),
    )


@pytest.fixture
def scraper_app_settings(database_target: DatabaseTarget, tmp_path: Path, sink: Sink) -> AppSettings:
    return AppSettings(
        data_dir=tmp_path / "data",
        database_url=database_target.url,
        database_schema=database_target.schema,
        smtp_url=sink.url,
        mail_from="Scraper <scraper@example.test>",
    )


def make_scraper_worker(config: QueueConfig, app: AppSettings, settings: ScraperSettings, **extra: Any) -> type:
    on_startup, on_shutdown = scraping_hooks(lambda: (app, settings))
    options: dict[str, Any] = {"concurrency": 8, "poll_delay_s": 0.01, **extra}
    return worker_settings(jobs=SCRAPER_JOBS, config=config, on_startup=on_startup, on_shutdown=on_shutdown, **options)


@pytest.fixture
def scraper_worker(
    config: QueueConfig, scraper_db: Database, scraper_app_settings: AppSettings, scraper_settings: ScraperSettings
) -> type:
    """Worker settings for every scraper job, on the test's database, shop and mail sink."""
    return make_scraper_worker(config, scraper_app_settings, scraper_settings)


@pytest.fixture
async def runtime(
    scraper_db: Database, scraper_app_settings: AppSettings, scraper_settings: ScraperSettings
) -> AsyncIterator[ScrapingRuntime]:
    """The runtime the jobs share, opened directly (for tests of the parts below the jobs)."""
    opened = await open_runtime(scraper_app_settings, scraper_settings)
    try:
        yield opened
    finally:
        await opened.close()
