"""The seed's five priorities in use: a "critical" product scrape added behind 10 000 "background" ones runs next."""

from __future__ import annotations

import asyncio
import signal

import pytest

from jobs.config import AppSettings
from jobs.scraping import product_scraping
from jobs.scraping.settings import ScraperSettings
from queue_system import Client, JobRequest, QueueConfig
from queue_system.worker import create_worker

from .conftest import DatabaseTarget
from .scraping_fixtures import (  # noqa: F401
    Site,
    _site_server,
    make_scraper_worker,
    scraper_app_settings,
    scraper_db,
    scraper_settings,
    site,
)

BACKGROUND = 10_000


@pytest.fixture
def database_target(sqlite_target: DatabaseTarget) -> DatabaseTarget:
    """SQLite only: the order of job starts does not depend on the database."""
    return sqlite_target


async def test_a_critical_scrape_behind_ten_thousand_background_ones_starts_next(
    site: Site,  # noqa: F811
    client: Client,
    config: QueueConfig,
    scraper_app_settings: AppSettings,  # noqa: F811
    scraper_settings: ScraperSettings,  # noqa: F811
) -> None:
    background = [
        JobRequest("product-scraping", (site.product_url(1 + i % 4000),), queue="scraping", priority="background")
        for i in range(BACKGROUND)
    ]
    await client.enqueue_many(background)
    critical_url = site.product_url(4242)
    await product_scraping.options(client=client, priority="critical").enqueue(critical_url)
    await product_scraping.options(client=client, priority="high").enqueue(site.product_url(4343))
    assert await client.queue_size("scraping") == BACKGROUND + 2

    settings = make_scraper_worker(config, scraper_app_settings, scraper_settings, concurrency=1)
    worker = create_worker(settings, queues=["scraping"], burst=True, handle_signals=False)
    run = asyncio.create_task(worker.async_run())
    try:
        async with asyncio.timeout(20):
            while len(site.shop.paths("/product/")) < 4:
                await asyncio.sleep(0.01)
        worker.handle_sig(signal.SIGTERM)  # stop after a few jobs: the rest are not needed
        await run
    finally:
        await worker.close()
    started = site.shop.paths("/product/")
    expected = [critical_url, site.product_url(4343), site.product_url(1)]  # critical, high, then background
    assert started[:3] == [url.removeprefix(site.url) for url in expected]
    assert await client.queue_size("scraping") >= BACKGROUND - 10
