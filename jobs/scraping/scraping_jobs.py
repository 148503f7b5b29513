"""The scraping jobs (queue ``scraping``): product, shop, orders and batches, with the seed's five priorities.

Every job takes the seed's options as keyword arguments (``use_proxy``, ``respect_robots``, ``timeout_s``) and
can be enqueued at any priority::

    await product_scraping.options(priority="critical").enqueue("https://shopee.co.id/product/123/456")

Retry behaviour: 5xx, timeouts and connection errors are retried with exponential backoff (2 s, 4 s, 8 s …, at
most 60 s, ±20 % jitter); a 429 pauses the host for every worker process and becomes
``queue_system.SlowDown(Retry-After)``: the job comes back as late as the server asked *without* using one of its
tries (the server did not fail, it asked us to wait), and so does a job that finds its host paused for longer than
it waits in-line; 404/410 complete the job with ``status: "not_found"`` (nothing to retry); a page that changed
shape fails at once (``ScrapeParseError``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

from queue_system import Exponential, JobContext, JobFunction, PermanentFailure, SlowDown, job

from ..queues import SCRAPING
from .batch import scrape_batch
from .context import is_last_try, job_id
from .errors import RateLimited
from .http import FetchOptions
from .processing_jobs import chunks, forward_records, save_order_data, save_product_data, save_shop_data
from .runtime import runtime_from
from .scrapers import fetch_product, fetch_shop, order_pages, shop_product_pages

_BACKOFF = Exponential(2, max_delay=60, jitter=0.2)
BATCH_MAX_TRIES = 4


@job(name="product-scraping", queue=SCRAPING, max_tries=5, backoff=_BACKOFF, timeout=120)
async def product_scraping(
    ctx: JobContext, url: str, *, use_proxy: bool = False, respect_robots: bool = True, timeout_s: float | None = None
) -> dict[str, Any]:
    """A product page (HTML with JSON-LD) or its JSON endpoint → one product record → validate → save → index."""
    runtime = await runtime_from(ctx)
    async with _honour_retry_after():
        record = await fetch_product(runtime.fetcher, url, FetchOptions(respect_robots, use_proxy, timeout_s))
    if record is None:
        return {"url": url, "status": "not_found"}
    validate_job = await forward_records(ctx, [record], "product", save_product_data, part=1)
    return {"url": url, "status": "scraped", "product_id": record["product_id"], "validate_job": validate_job}


@job(name="shop-scraping", queue=SCRAPING, max_tries=5, backoff=_BACKOFF, timeout=900)
async def shop_scraping(
    ctx: JobContext,
    shop_url: str,
    *,
    use_proxy: bool = False,
    respect_robots: bool = True,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """A shop's profile and its product list (paginated); each page of products is forwarded as it arrives."""
    runtime = await runtime_from(ctx)
    options = FetchOptions(respect_robots, use_proxy, timeout_s)
    async with _honour_retry_after():
        shop = await fetch_shop(runtime.fetcher, shop_url, options)
        if shop is None:
            return {"shop_url": shop_url, "status": "not_found"}
        await forward_records(ctx, [shop], "shop", save_shop_data, part="shop")
        products = pages = 0
        async for page in shop_product_pages(runtime.fetcher, shop, options, runtime.settings.max_pages):
            pages += 1
            products += len(page)
            for number, chunk in enumerate(chunks(page, runtime.settings.chunk_size)):
                await forward_records(ctx, chunk, "product", save_product_data, part=f"{pages}.{number}")
    return {"shop_url": shop_url, "status": "scraped", "shop_id": shop["shop_id"], "pages": pages, "products": products}


@job(name="order-scraping", queue=SCRAPING, max_tries=5, backoff=_BACKOFF, timeout=900)
async def order_scraping(
    ctx: JobContext,
    account_id: str,
    date_from: str,
    date_to: str,
    *,
    base_url: str | None = None,
    use_proxy: bool = False,
    respect_robots: bool = True,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """An account's orders placed between two dates (``YYYY-MM-DD``, inclusive), all pages of them."""
    try:
        start, end = date.fromisoformat(date_from), date.fromisoformat(date_to)
    except ValueError as exc:
        raise PermanentFailure(f"dates must be YYYY-MM-DD: {exc}") from exc
    if start > end:
        raise PermanentFailure(f"the date range is empty: {date_from} is after {date_to}")
    runtime = await runtime_from(ctx)
    options = FetchOptions(respect_robots, use_proxy, timeout_s)
    orders = pages = 0
    async with _honour_retry_after():
        base = base_url or runtime.settings.base_url
        async for page in order_pages(
            runtime.fetcher, base, account_id, start, end, options, runtime.settings.max_pages
        ):
            pages += 1
            orders += len(page)
            await forward_records(ctx, page, "order", save_order_data, part=pages)
    return {"account_id": account_id, "status": "scraped", "pages": pages, "orders": orders}


@job(name="batch-scraping", queue=SCRAPING, max_tries=BATCH_MAX_TRIES, backoff=_BACKOFF, timeout=3600)
async def batch_scraping(
    ctx: JobContext,
    urls: list[str],
    *,
    concurrency: int = 5,
    use_proxy: bool = False,
    respect_robots: bool = True,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """Many product URLs with the batch's own concurrency; progress per URL is in ``scrape_items``.

    The result (and ``progress.batch_progress(db, job_id)``) counts URLs per status; URLs that kept failing
    transiently are "failed" after the last try, and the job completes: a partial success, not a failure.
    """
    if not 1 <= concurrency <= 200:
        raise PermanentFailure(f"concurrency must be 1..200, not {concurrency}")
    runtime = await runtime_from(ctx)
    return await scrape_batch(
        ctx,
        runtime,
        urls,
        job_id=job_id(ctx),
        concurrency=concurrency,
        options=FetchOptions(respect_robots, use_proxy, timeout_s),
        last_try=is_last_try(ctx, BATCH_MAX_TRIES),
    )


@contextlib.asynccontextmanager
async def _honour_retry_after() -> AsyncIterator[None]:
    """Turn a 429 (or a host paused for long) into a postponement to the time the server named: no try used."""
    try:
        yield
    except RateLimited as exc:
        raise SlowDown(retry_after=exc.retry_after_s, reason=str(exc)) from exc


SCRAPING_JOBS: list[JobFunction[Any, Any]] = [product_scraping, shop_scraping, order_scraping, batch_scraping]
