"""The fixture shop the scraper tests and benchmark scrape, and a webhook receiver, both on loopback.

The shop speaks the two shapes the parsers know — product pages with schema.org JSON-LD and Shopee's v4 JSON
API (prices times 100 000) — and misbehaves on purpose under path prefixes:

    /product/<shop>/<item>             a product page            /api/v4/item/get?itemid=&shopid=   the same as JSON
    /changed/product/<shop>/<item>     the page after a redesign: no JSON-LD any more
    /private/product/…                 disallowed by robots.txt  /slow/product/…     answers after ``slow_s``
    /forbidden/product/…               403, always          /moved/product/…    301 to /product/…
    /limited/product/…                 429 + Retry-After the first ``limited_times`` requests of each path
    /flaky/product/…                   503 the first ``flaky_times`` requests of each path
    /api/v4/shop/get_shop_detail, /api/v4/shop/search_items (paginated; shop 3's list changed shape)
    /api/v4/order/get_order_list       orders of any account, one every 16 hours of January 2024, paginated

Every request is logged (path, user agent, whether it came as to a proxy), so tests can see what was asked.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any

from jobs.scraping.webhooks import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

from .scraping_http import Request, Response

NAMES = ["Kopi Arabika Gayo", "Kaos Polos Katun", "Sepatu Lari Pria", "Tas Ransel Laptop", "Madu Hutan Asli"]
NAMES += ["Sambal Bawang Pedas", "Café Latte Sachet", "Jilbab Instan Premium", "Batik Tulis Solo", "Teh Hijau Melati"]
SHOPS = {"1": "Toko Makmur Jaya", "2": "Warung Digital", "3": "Butik Lama"}
SHOP_ITEMS = 70  # items per shop in its product list: three pages of 30
ORDERS_START = datetime(2024, 1, 1, tzinfo=UTC)
ORDERS = 46  # one every 16 hours: 2024-01-01 00:00 … 2024-01-31 00:00
API_SCALE = 100_000


@dataclass
class Item:
    item_id: int
    shop_id: str
    name: str
    price: int  # rupiah
    stock: int
    rating: float


def item(item_id: int) -> Item:
    shop_id = str(item_id % 3 + 1)
    name = f"{NAMES[item_id % len(NAMES)]} {item_id}"
    return Item(
        item_id, shop_id, name, 10_000 + (item_id * 7919) % 490_000, item_id % 50, round(3 + (item_id % 21) / 10, 1)
    )


@dataclass
class FixtureShop:
    catalog_size: int = 5000
    robots_txt: str = "User-agent: *\nDisallow: /private/\n"
    robots_status: int = 200
    slow_s: float = 2.0
    limited_times: int = 1
    retry_after: str = "1"
    flaky_times: int = 1
    prices: dict[int, int] = field(default_factory=dict)  # price overrides (a price change between scrapes)
    log: list[Request] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)
    logging: bool = True

    def reset(self) -> None:
        defaults = FixtureShop()
        for name in ("robots_txt", "robots_status", "slow_s", "limited_times", "retry_after", "flaky_times"):
            setattr(self, name, getattr(defaults, name))
        self.prices.clear()
        self.log.clear()
        self.hits.clear()

    def paths(self, prefix: str = "") -> list[str]:
        return [r.target for r in self.log if r.path.startswith(prefix)]

    def item(self, item_id: int) -> Item | None:
        if not 1 <= item_id <= self.catalog_size:
            return None
        found = item(item_id)
        found.price = self.prices.get(item_id, found.price)
        return found

    async def __call__(self, request: Request) -> Response:
        if self.logging:
            self.log.append(request)
        path = request.path
        self.hits[path] += 1
        if path == "/robots.txt":
            return Response(self.robots_status, self.robots_txt.encode())
        if path.startswith("/api/v4/"):
            return self._api(path.removeprefix("/api/v4/"), request.query)
        return await self._page(path)

    async def _page(self, path: str) -> Response:
        mode, _, rest = path.lstrip("/").partition("/")
        if mode == "product":
            return self._product_page(path)
        if mode == "slow":
            await asyncio.sleep(self.slow_s)
        elif mode == "limited":
            if self.hits[path] <= self.limited_times:
                return Response(429, b"slow down", headers={"Retry-After": self.retry_after})
        elif mode == "flaky":
            if self.hits[path] <= self.flaky_times:
                return Response(503, b"try later")
        elif mode == "forbidden":
            return Response(403, b"blocked")
        elif mode == "moved":
            return Response(301, b"", headers={"Location": f"/{rest}"})
        elif mode == "changed":
            return _html("<html><body><div class='pdp-v2'><h1>redesigned</h1></div></body></html>")
        elif mode != "private":
            return Response(404, b"no such page")
        return self._product_page("/" + rest)

    def _product_page(self, path: str) -> Response:
        parts = path.strip("/").split("/")
        found = self.item(int(parts[2])) if len(parts) == 3 and parts[2].isdigit() else None
        if found is None:
            return Response(404, b"product not found")
        data = {
            "@context": "https://schema.org",
            "@type": "Product",
            "productID": str(found.item_id),
            "name": found.name,
            "description": f"{found.name} dari {SHOPS[found.shop_id]}, kualitas terbaik.",
            "image": [f"/img/{found.item_id}-1.jpg", f"/img/{found.item_id}-2.jpg"],
            "aggregateRating": {"@type": "AggregateRating", "ratingValue": str(found.rating), "reviewCount": "12"},
            "offers": {
                "@type": "Offer",
                "price": str(found.price),
                "priceCurrency": "IDR",
                "inventoryLevel": {"@type": "QuantitativeValue", "value": found.stock},
                "seller": {"@type": "Organization", "name": SHOPS[found.shop_id], "identifier": found.shop_id},
            },
        }
        return _html(
            f"<!DOCTYPE html><html><head><title>{escape(found.name)}</title>"
            f'<script type="application/ld+json">{json.dumps(data)}</script></head>'
            f"<body><h1>{escape(found.name)}</h1><p class='price'>Rp{found.price:,}</p></body></html>"
        )

    def _api(self, endpoint: str, query: dict[str, str]) -> Response:
        if endpoint == "item/get":
            found = self.item(int(query.get("itemid", "0") or 0))
            return _json({"error": None, "data": _api_item(found)}) if found else Response(404, b"{}")
        if endpoint == "shop/get_shop_detail":
            shop_id = query.get("shopid", "")
            if shop_id not in SHOPS:
                return Response(404, b"{}")
            detail = {"shopid": int(shop_id), "name": SHOPS[shop_id], "rating_star": 4.7, "follower_count": 1200}
            return _json({"error": None, "data": {**detail, "item_count": SHOP_ITEMS, "shop_location": "Jakarta"}})
        if endpoint == "shop/search_items":
            return self._shop_items(query)
        if endpoint == "order/get_order_list":
            return _orders(query)
        return Response(404, b"{}")

    def _shop_items(self, query: dict[str, str]) -> Response:
        shop_id, offset, limit = query["shopid"], int(query["offset"]), int(query["limit"])
        ids = [shop_id_item for shop_id_item in range(1, SHOP_ITEMS * 3 + 1) if str(shop_id_item % 3 + 1) == shop_id]
        page = [_api_item(found) for i in ids[offset : offset + limit] if (found := self.item(i))]
        key = "item_list" if shop_id == "3" and offset > 0 else "items"  # shop 3's second page: a changed API
        return _json({"error": None, "data": {key: page, "total": len(ids), "no_more": offset + limit >= len(ids)}})


def _api_item(found: Item) -> dict[str, Any]:
    return {
        "itemid": found.item_id,
        "shopid": int(found.shop_id),
        "name": found.name,
        "price": found.price * API_SCALE,
        "stock": found.stock,
        "item_rating": {"rating_star": found.rating},
        "images": [f"{found.item_id}a", f"{found.item_id}b"],
    }


def _orders(query: dict[str, str]) -> Response:
    start, end = date.fromisoformat(query["from"]), date.fromisoformat(query["to"])
    offset, limit = int(query.get("offset", 0)), int(query.get("limit", 30))
    all_orders = []
    for n in range(ORDERS):
        created = ORDERS_START + timedelta(hours=16 * n)
        if start <= created.date() <= end:
            price = (n % 5 + 1) * 25_000
            line = {"itemid": 1000 + n, "name": f"{NAMES[n % len(NAMES)]}", "amount": n % 3 + 1}
            line["item_price"] = price * API_SCALE
            all_orders.append(
                {
                    "order_id": f"{query['account_id']}-{n:04d}",
                    "status": "COMPLETED" if n % 4 else "CANCELLED",
                    "total": price * line["amount"] * API_SCALE,
                    "currency": "IDR",
                    "create_time": int(created.timestamp()),
                    "items": [line],
                }
            )
    page = all_orders[offset : offset + limit]
    more = offset + limit < len(all_orders)
    return _json({"error": None, "data": {"orders": page, "more": more, "next_offset": offset + limit}})


def _html(text: str) -> Response:
    return Response(200, text.encode(), "text/html; charset=utf-8")


def _json(data: Any) -> Response:
    return Response(200, json.dumps(data).encode(), "application/json")


@dataclass
class Delivery:
    path: str
    body: Any
    verified: bool
    delivery_id: str | None


@dataclass
class WebhookReceiver:
    """Verifies every delivery's signature; answers by path: /ok 200, /flaky 503 once then 200, /gone 410,
    /limited 429 (Retry-After: 1) once then 200."""

    secret: str
    deliveries: list[Delivery] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)

    async def __call__(self, request: Request) -> Response:
        self.hits[request.path] += 1
        headers = request.headers
        verified = verify_signature(
            self.secret, request.body, headers.get(TIMESTAMP_HEADER.lower()), headers.get(SIGNATURE_HEADER.lower())
        )
        self.deliveries.append(
            Delivery(request.path, json.loads(request.body), verified, headers.get(ID_HEADER.lower()))
        )
        if not verified:
            return Response(401, b"bad signature")
        if request.path == "/flaky" and self.hits[request.path] == 1:
            return Response(503, b"busy")
        if request.path == "/limited" and self.hits[request.path] == 1:
            return Response(429, b"slow down", headers={"Retry-After": "1"})
        if request.path == "/gone":
            return Response(410, b"this endpoint was removed")
        return Response(204)
