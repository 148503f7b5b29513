"""The records scraping produces and data processing consumes, as they travel in job payloads (plain JSON).

Prices travel in major units (150000 for Rp 150.000, 19.99 for $19.99), as the seed's ``save-product-data``
example has them; storage converts them to integer minor units.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypedDict


class ProductRecord(TypedDict):
    product_id: str
    shop_id: str | None
    shop_name: str | None
    name: str
    description: str | None
    price: float | int
    currency: str
    stock: int | None
    rating: float | None
    images: list[str]
    url: str


class ShopRecord(TypedDict):
    shop_id: str
    name: str
    url: str
    rating: float | None
    follower_count: int | None
    product_count: int | None
    location: str | None


class OrderItem(TypedDict):
    product_id: str
    name: str
    quantity: int
    price: float | int


class OrderRecord(TypedDict):
    account_id: str
    order_id: str
    status: str
    total: float | int
    currency: str
    ordered_at: str  # ISO 8601 with offset
    items: list[OrderItem]


Record = dict[str, Any]  # a record as validate-data sees it: any JSON object


def to_minor(amount: Any) -> int:
    """Major units to hundredths, rounding half up (through Decimal, so 19.99 stays 1999, not 1998)."""
    try:
        return int((Decimal(str(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc


def major(amount: Decimal) -> float | int:
    """A JSON-friendly number: an int when whole, else a float with at most two decimals."""
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(amount) if amount == amount.to_integral_value() else float(amount)
