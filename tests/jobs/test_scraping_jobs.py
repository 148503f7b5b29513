"""The scraping jobs through the real worker, Redis, the fixture shop and the database (SQLite and PostgreSQL):
scrape → validate → save → index, and what happens on 404, 429, 5xx, timeouts and pages that changed shape."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from jobs.db import Database
from jobs.db.models import Order, PriceHistory, Product, ScrapeItem, Shop
from jobs.scraping import (
    batch_progress,
    batch_scraping,
    order_scraping,
    product_scraping,
    search_products,
    shop_scraping,
)
from queue_system import Client, JobFailed, QueueAPI

from ..support.queue_fixtures import run_burst
from .scraping_fixtures import (  # noqa: F401
    Site,
    _site_server,
    scraper_app_settings,
    scraper_db,
    scraper_settings,
    scraper_worker,
    site,
)
from .scraping_site import item

ALL_QUEUES = ["scraping", "data-processing"]


async def test_a_product_scrape_flows_through_validation_saving_and_indexing(
    site: Site,  # noqa: F811
    scraper_db: Database,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    job = await product_scraping.options(client=client).enqueue(site.product_url(12))
    api = await product_scraping.options(client=client).enqueue(f"{site.url}/api/v4/item/get?itemid=13&shopid=2")
    await run_burst(scraper_worker, queues=ALL_QUEUES)

    result = await job.result(timeout=1)
    assert result["status"] == "scraped" and result["product_id"] == "12"
    validated = await client.job(result["validate_job"], "data-processing").result(timeout=1)
    assert validated["valid"] == 1 and validated["errors"] == []
    saved = await client.job(validated["save_job"], "data-processing").result(timeout=1)
    assert saved["created"] == 1
    assert (await client.job(saved["index_job"], "data-processing").result(timeout=1))["indexed"] == 1
    assert (await api.result(timeout=1))["product_id"] == "13"

    async with scraper_db.session() as session:
        product = await session.scalar(select(Product).where(Product.product_id == "12"))
        assert product is not None
        assert (product.name, product.price_minor, product.shop_name) == (
            item(12).name,
            item(12).price * 100,
            "Toko Makmur Jaya",
        )
        history = list(
            await session.scalars(select(PriceHistory.price_minor).where(PriceHistory.product_id == product.id))
        )
        assert history == [item(12).price * 100]
    hits = await search_products(scraper_db, item(12).name.split()[0])
    assert [h.product_id for h in hits if h.product_id == "12"] == ["12"]


async def test_a_rescrape_after_a_price_change_adds_price_history(
    site: Site,  # noqa: F811
    scraper_db: Database,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    url = site.product_url(30)
    for price in (None, 99_000, 99_000, 101_000):
        if price is not None:
            site.shop.prices[30] = price
        await product_scraping.options(client=client).enqueue(url)
        await run_burst(scraper_worker, queues=ALL_QUEUES)
    async with scraper_db.session() as session:
        product = await session.scalar(select(Product).where(Product.product_id == "30"))
        assert product is not None and product.price_minor == 101_000_00
        rows = await session.scalars(
            select(PriceHistory.price_minor).where(PriceHistory.product_id == product.id).order_by(PriceHistory.id)
        )
        assert list(rows) == [item(30).price * 100, 99_000_00, 101_000_00]


async def test_404_is_recorded_not_retried_and_a_changed_page_fails_with_a_parse_error(
    site: Site,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    gone = await product_scraping.options(client=client).enqueue(f"{site.url}/product/1/999999")
    changed = await product_scraping.options(client=client).enqueue(site.product_url(9, "changed"))
    await run_burst(scraper_worker, queues=["scraping"])
    assert await gone.result(timeout=1) == {"url": f"{site.url}/product/1/999999", "status": "not_found"}
    assert site.shop.hits["/product/1/999999"] == 1
    with pytest.raises(JobFailed, match="ScrapeParseError"):
        await changed.result(timeout=1)
    entry = await client.failed.get(changed.job_id)
    assert entry.reason == "permanent failure" and "no schema.org Product" in entry.message
    assert site.shop.hits["/changed/product/1/9"] == 1  # never retried


async def test_429_postpones_without_a_try_and_5xx_and_timeouts_retry_with_backoff(
    site: Site,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    site.shop.retry_after = "1"
    site.shop.slow_s = 0.8  # past the 0.5 s timeout, once
    limited = await product_scraping.options(client=client).enqueue(site.product_url(21, "limited"))
    flaky = await product_scraping.options(client=client).enqueue(site.product_url(22, "flaky"))
    started = time.monotonic()
    await run_burst(scraper_worker, queues=["scraping"])
    assert (await limited.result(timeout=1))["status"] == "scraped"
    assert (await flaky.result(timeout=1))["status"] == "scraped"
    assert site.shop.hits["/limited/product/1/21"] == 2 and site.shop.hits["/flaky/product/2/22"] == 2
    assert time.monotonic() - started >= 1.0  # the 429's retry waited for Retry-After
    api = QueueAPI(client)
    limited_info, flaky_info = await api.job(limited.job_id), await api.job(flaky.job_id)
    assert limited_info.tries == 1  # the 429 postponed the job (SlowDown) without using a try
    assert (limited_info.started_at_ms or 0) - (limited_info.enqueued_at_ms or 0) >= 1000  # back after Retry-After
    assert flaky_info.tries == 2  # the 503 did use one
    assert (await api.postponed())[product_scraping.name] == 1


async def test_a_shop_is_scraped_page_by_page_and_a_changed_page_stops_it(
    site: Site,  # noqa: F811
    scraper_db: Database,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    whole = await shop_scraping.options(client=client).enqueue(f"{site.url}/shop/1")
    changed = await shop_scraping.options(client=client).enqueue(f"{site.url}/shop/3")
    missing = await shop_scraping.options(client=client).enqueue(f"{site.url}/shop/77")
    await run_burst(scraper_worker, queues=ALL_QUEUES)
    assert await whole.result(timeout=1) == {
        "shop_url": f"{site.url}/shop/1",
        "status": "scraped",
        "shop_id": "1",
        "pages": 3,
        "products": 70,
    }
    with pytest.raises(JobFailed, match=r"no items list"):
        await changed.result(timeout=1)
    assert (await missing.result(timeout=1))["status"] == "not_found"
    async with scraper_db.session() as session:
        shops = {s.shop_id: s for s in await session.scalars(select(Shop))}
        assert set(shops) == {"1", "3"} and shops["1"].product_count == 70 and shops["1"].location == "Jakarta"
        per_shop = dict((await session.execute(select(Product.shop_id, func.count()).group_by(Product.shop_id))).all())
    assert per_shop == {"1": 70, "3": 30}  # shop 3: the first page was saved before its second page failed


async def test_orders_in_a_date_range_over_several_pages(
    site: Site,  # noqa: F811
    scraper_db: Database,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    job = await order_scraping.options(client=client).enqueue("akun-7", "2024-01-02", "2024-01-30")
    bad = await order_scraping.options(client=client).enqueue("akun-7", "2024-01-30", "2024-01-02")
    await run_burst(scraper_worker, queues=ALL_QUEUES)
    result = await job.result(timeout=1)
    # one order every 16 hours from 2024-01-01 00:00: those dated 01-02 … 01-30 are orders 2 … 44
    assert (result["orders"], result["pages"]) == (43, 2)
    with pytest.raises(JobFailed, match="the date range is empty"):
        await bad.result(timeout=1)
    async with scraper_db.session() as session:
        orders = list(await session.scalars(select(Order).order_by(Order.ordered_at)))
    assert len(orders) == 43 and {o.account_id for o in orders} == {"akun-7"}
    assert orders[0].order_id == "akun-7-0002" and orders[-1].order_id == "akun-7-0044"
    assert orders[0].ordered_at.isoformat() == "2024-01-02T08:00:00+00:00"
    assert orders[0].items[0]["quantity"] == 3 and orders[0].total_minor == orders[0].items[0]["price"] * 3 * 100


async def test_a_batch_records_progress_per_url_and_finishes_with_a_partial_success(
    site: Site,  # noqa: F811
    scraper_db: Database,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    site.shop.flaky_times, site.shop.retry_after = 10, "0"  # 503 through every try; a 429 asks for no wait
    good = [site.product_url(i) for i in range(100, 160)]
    urls = [*good, f"{site.url}/product/1/999999", site.product_url(5, "changed"), site.product_url(6, "private")]
    urls += [site.product_url(8, "flaky"), site.product_url(7, "limited"), good[0]]  # a duplicate is scraped once
    job = await batch_scraping.options(client=client, job_id="batch-1").enqueue(urls, concurrency=4)
    await run_burst(scraper_worker, queues=ALL_QUEUES)
    result = await job.result(timeout=1)
    expected = {"scraped": 61, "not_found": 1, "parse_error": 1, "blocked": 1, "failed": 1}
    assert result["counts"] == expected
    assert await batch_progress(scraper_db, "batch-1") == {
        "job_id": "batch-1",
        "status": "partial",
        "total": 65,
        "counts": expected,
    }
    assert site.shop.hits[urls[-3].removeprefix(site.url)] == 4  # the 503 once per try, then "failed"
    assert site.shop.hits[urls[-2].removeprefix(site.url)] == 2  # the 429 was fetched again on the second try
    assert sum(site.shop.hits[u.removeprefix(site.url)] for u in good) == 60  # settled URLs are not fetched again
    async with scraper_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Product)) == 61
        failed = await session.scalar(select(ScrapeItem).where(ScrapeItem.status == "parse_error"))
        assert failed is not None and "JSON-LD" in (failed.error or "")


async def test_a_batch_stopped_only_by_429s_comes_back_without_using_a_try(
    site: Site,  # noqa: F811
    scraper_db: Database,  # noqa: F811
    scraper_worker: type,  # noqa: F811
    client: Client,
) -> None:
    site.shop.retry_after = "1"
    urls = [site.product_url(i) for i in range(200, 220)] + [site.product_url(7, "limited")]
    job = await batch_scraping.options(client=client, job_id="batch-429").enqueue(urls, concurrency=4)
    await run_burst(scraper_worker, queues=["scraping"])
    assert (await job.result(timeout=1))["counts"] == {"scraped": 21}
    info = await QueueAPI(client).job("batch-429")
    assert info.tries == 1 and (await QueueAPI(client).postponed())[batch_scraping.name] == 1
    assert site.shop.hits[urls[-1].removeprefix(site.url)] == 2
    assert sum(site.shop.hits[u.removeprefix(site.url)] for u in urls[:-1]) == 20  # the second run fetched only it
