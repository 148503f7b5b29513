"""Fetching and parsing per kind of page: a product, a shop with its product list, an account's orders.

These are the jobs' working parts, free of queue concerns: they return records or raise the errors of
``errors.py``. Lists are async generators yielding one page of records at a time, so a job forwards each page
to data processing as it arrives instead of holding a whole shop in memory; they stop at ``max_pages`` even if
the site keeps saying there is more (a changed API that ignores offsets would otherwise loop forever).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from urllib.parse import urlsplit

from queue_system.logging_setup import get_logger

from .errors import PageRefused, ScrapeParseError
from .http import Fetcher, FetchOptions, Page
from .parsers import orders_from_api, product_from_page, shop_from_api, shop_items_from_api
from .records import OrderRecord, ProductRecord, ShopRecord

log = get_logger(__name__)
SHOP_ID_IN_PATH = re.compile(r"/shop/([A-Za-z0-9_-]+)")
PAGE_SIZE = 30


def settle(page: Page) -> Page | None:
    """None for a page that is gone (404/410); the page itself for 2xx/3xx; a refusal for other 4xx."""
    if page.not_found:
        return None
    if page.status >= 400:
        raise PageRefused(f"{page.url} answered {page.status}")
    return page


async def fetch_product(fetcher: Fetcher, url: str, options: FetchOptions) -> ProductRecord | None:
    page = settle(await fetcher.get(url, options))
    return None if page is None else product_from_page(page)


async def fetch_shop(fetcher: Fetcher, shop_url: str, options: FetchOptions) -> ShopRecord | None:
    match = SHOP_ID_IN_PATH.search(urlsplit(shop_url).path)
    if match is None:
        raise ScrapeParseError(shop_url, "no shop id in the URL (expected …/shop/<id>)")
    page = settle(await fetcher.get(_api(shop_url, "shop/get_shop_detail"), options, shopid=match.group(1)))
    return None if page is None else shop_from_api(page, shop_url)


async def shop_product_pages(
    fetcher: Fetcher, shop: ShopRecord, options: FetchOptions, max_pages: int
) -> AsyncIterator[list[ProductRecord]]:
    url = _api(shop["url"], "shop/search_items")
    for number in range(max_pages):
        page = settle(
            await fetcher.get(url, options, shopid=shop["shop_id"], offset=number * PAGE_SIZE, limit=PAGE_SIZE)
        )
        if page is None:
            return
        products, more = shop_items_from_api(page, shop)
        yield products
        if not more:
            return
    log.warning("scrape.pages_capped", shop_id=shop["shop_id"], max_pages=max_pages)


async def order_pages(
    fetcher: Fetcher,
    base_url: str,
    account_id: str,
    date_from: date,
    date_to: date,
    options: FetchOptions,
    max_pages: int,
) -> AsyncIterator[list[OrderRecord]]:
    """The account's orders placed from ``date_from`` to ``date_to`` inclusive (UTC dates), page by page.

    The range is sent to the site and checked again here, so a site that ignores the filter cannot make the job
    save orders outside it.
    """
    url = _api(base_url, "order/get_order_list")
    offset: int | None = 0
    for _ in range(max_pages):
        page = settle(
            await fetcher.get(
                url,
                options,
                account_id=account_id,
                offset=offset or 0,
                limit=PAGE_SIZE,
                **{"from": date_from.isoformat(), "to": date_to.isoformat()},
            )
        )
        if page is None:
            return
        orders, offset = orders_from_api(page, account_id)
        yield [o for o in orders if date_from <= datetime.fromisoformat(o["ordered_at"]).date() <= date_to]
        if offset is None:
            return
    log.warning("scrape.pages_capped", account_id=account_id, max_pages=max_pages)


def _api(any_url: str, path: str) -> str:
    parts = urlsplit(any_url)
    return f"{parts.scheme}://{parts.netloc}/api/v4/{path}"
