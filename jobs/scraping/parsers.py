"""Pages → records. Two page shapes are understood for products, and one JSON API shape for shops and orders:

* a product page (HTML) carrying a schema.org ``Product`` in JSON-LD (``jsonld``);
* the marketplace's JSON API (Shopee's v4 shape: ``{"error": …, "data": {…}}``, prices scaled by 100 000).

Anything else — a missing block, a missing price, a renamed field — raises ``ScrapeParseError`` naming the URL
and exactly what was missing, so the failed store says which parser needs updating instead of a KeyError.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin

import orjson

from .errors import ScrapeParseError
from .http import Page
from .jsonld import json_ld_objects, of_type
from .records import OrderItem, OrderRecord, ProductRecord, ShopRecord, major

API_PRICE_SCALE = Decimal(100_000)  # the v4 API's prices are the amount times 100 000
IMAGE_BASE = "https://cf.shopee.co.id/file/"  # the API lists image hashes; pages list URLs


def product_from_page(page: Page) -> ProductRecord:
    if page.is_json:
        return product_from_api(_api_data(page), page.url)
    if "html" not in page.content_type:
        raise ScrapeParseError(page.url, f"unexpected content type {page.content_type or 'none'!r}")
    product = of_type(json_ld_objects(page.text()), "Product")
    if product is None:
        raise ScrapeParseError(page.url, "no schema.org Product in the page's JSON-LD")
    offers = product.get("offers")
    offer = offers[0] if isinstance(offers, list) and offers else offers
    if not isinstance(offer, dict):
        raise ScrapeParseError(page.url, "the Product has no offers (price)")
    seller, inventory = _dict(offer.get("seller")), _dict(offer.get("inventoryLevel"))
    rating = _dict(product.get("aggregateRating"))
    images = product.get("image") or []
    return ProductRecord(
        product_id=_text(product.get("productID") or product.get("sku"), page.url, "Product.productID"),
        shop_id=_opt_text(seller.get("identifier")),
        shop_name=_opt_text(seller.get("name")),
        name=_text(product.get("name"), page.url, "Product.name"),
        description=_opt_text(product.get("description")),
        price=major(_decimal(offer.get("price"), page.url, "Product.offers.price")),
        currency=_text(offer.get("priceCurrency") or "IDR", page.url, "Product.offers.priceCurrency"),
        stock=_opt_int(inventory.get("value"), page.url, "Product.offers.inventoryLevel.value"),
        rating=_opt_float(rating.get("ratingValue"), page.url, "Product.aggregateRating.ratingValue"),
        images=[urljoin(page.url, str(i)) for i in (images if isinstance(images, list) else [images])],
        url=page.url,
    )


def product_from_api(item: dict[str, Any], url: str, shop_name: str | None = None) -> ProductRecord:
    rating = _dict(item.get("item_rating"))
    images = item.get("images") or []
    if not isinstance(images, list):
        raise ScrapeParseError(url, "item.images is not a list")
    return ProductRecord(
        product_id=_text(item.get("itemid"), url, "item.itemid"),
        shop_id=_opt_text(item.get("shopid")),
        shop_name=_opt_text(item.get("shop_name")) or shop_name,
        name=_text(item.get("name"), url, "item.name"),
        description=_opt_text(item.get("description")),
        price=major(_decimal(item.get("price"), url, "item.price") / API_PRICE_SCALE),
        currency=_text(item.get("currency") or "IDR", url, "item.currency"),
        stock=_opt_int(item.get("stock"), url, "item.stock"),
        rating=_opt_float(rating.get("rating_star"), url, "item.item_rating.rating_star"),
        images=[i if "://" in str(i) else IMAGE_BASE + str(i) for i in images],
        url=url,
    )


def shop_from_api(page: Page, shop_url: str) -> ShopRecord:
    data = _api_data(page)
    return ShopRecord(
        shop_id=_text(data.get("shopid"), page.url, "shop.shopid"),
        name=_text(data.get("name"), page.url, "shop.name"),
        url=shop_url,
        rating=_opt_float(data.get("rating_star"), page.url, "shop.rating_star"),
        follower_count=_opt_int(data.get("follower_count"), page.url, "shop.follower_count"),
        product_count=_opt_int(data.get("item_count"), page.url, "shop.item_count"),
        location=_opt_text(data.get("shop_location")),
    )


def shop_items_from_api(page: Page, shop: ShopRecord) -> tuple[list[ProductRecord], bool]:
    """One page of a shop's product list: the products and whether more pages follow."""
    data = _api_data(page)
    items = data.get("items")
    if not isinstance(items, list):
        raise ScrapeParseError(page.url, "no items list in the shop's product page")
    products = [product_from_api(_object(i, page.url, "items[]"), page.url, shop["name"]) for i in items]
    return products, not bool(data.get("no_more", True)) and bool(items)


def orders_from_api(page: Page, account_id: str) -> tuple[list[OrderRecord], int | None]:
    """One page of an account's orders and the next offset (None when this was the last page)."""
    data = _api_data(page)
    rows = data.get("orders")
    if not isinstance(rows, list):
        raise ScrapeParseError(page.url, "no orders list in the order page")
    orders = [_order(_object(row, page.url, "orders[]"), page.url, account_id) for row in rows]
    more = bool(data.get("more")) and bool(rows)
    return orders, (_opt_int(data.get("next_offset"), page.url, "next_offset") if more else None)


def _order(row: dict[str, Any], url: str, account_id: str) -> OrderRecord:
    created = _opt_int(row.get("create_time"), url, "order.create_time")
    if created is None:
        raise ScrapeParseError(url, "order.create_time is missing")
    items = row.get("items")
    if not isinstance(items, list):
        raise ScrapeParseError(url, "order.items is not a list")
    return OrderRecord(
        account_id=account_id,
        order_id=_text(row.get("order_id"), url, "order.order_id"),
        status=_text(row.get("status"), url, "order.status"),
        total=major(_decimal(row.get("total"), url, "order.total") / API_PRICE_SCALE),
        currency=_text(row.get("currency") or "IDR", url, "order.currency"),
        ordered_at=datetime.fromtimestamp(created, UTC).isoformat(),
        items=[
            OrderItem(
                product_id=_text(item.get("itemid"), url, "order.items[].itemid"),
                name=_text(item.get("name"), url, "order.items[].name"),
                quantity=_opt_int(item.get("amount"), url, "order.items[].amount") or 1,
                price=major(_decimal(item.get("item_price"), url, "order.items[].item_price") / API_PRICE_SCALE),
            )
            for item in (_object(i, url, "order.items[]") for i in items)
        ],
    )


def _api_data(page: Page) -> dict[str, Any]:
    if not page.is_json:
        raise ScrapeParseError(page.url, f"expected JSON, got {page.content_type or 'no content type'}")
    try:
        body = page.json()
    except orjson.JSONDecodeError as exc:
        raise ScrapeParseError(page.url, f"invalid JSON ({exc})") from exc
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        error = body.get("error") if isinstance(body, dict) else None
        raise ScrapeParseError(page.url, f"no 'data' object in the API answer (error={error!r})")
    data: dict[str, Any] = body["data"]
    return data


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _object(value: Any, url: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScrapeParseError(url, f"{path} is not an object")
    return value


def _text(value: Any, url: str, path: str) -> str:
    if value is None or isinstance(value, dict | list) or str(value).strip() == "":
        raise ScrapeParseError(url, f"{path} is missing")
    return str(value).strip()


def _opt_text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None and not isinstance(value, dict | list) else None


def _decimal(value: Any, url: str, path: str) -> Decimal:
    if value is None or isinstance(value, bool | dict | list):
        raise ScrapeParseError(url, f"{path} is missing")
    try:
        amount = Decimal(str(value))  # schema.org wants a plain number: "150.000" is refused
    except InvalidOperation as exc:
        raise ScrapeParseError(url, f"{path} is not a number: {value!r}") from exc
    if not amount.is_finite():
        raise ScrapeParseError(url, f"{path} is not a finite number: {value!r}")
    return amount


def _opt_int(value: Any, url: str, path: str) -> int | None:
    return None if value is None or value == "" else int(_decimal(value, url, path))


def _opt_float(value: Any, url: str, path: str) -> float | None:
    return None if value is None or value == "" else float(_decimal(value, url, path))
