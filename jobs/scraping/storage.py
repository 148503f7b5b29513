"""Saving validated records: upserts by the marketplace's ids, and a product's price history.

``save_products`` runs in one transaction per chunk, in three set-based steps that stay correct when two workers
save the same product at once (PostgreSQL; SQLite serializes writers anyway):

1. ``INSERT … ON CONFLICT DO NOTHING RETURNING`` creates the rows that are new, and says which ones it created;
2. ``SELECT … FOR UPDATE`` locks the rows that existed and reads their current price;
3. existing rows are updated; a history row is written for every new product and every changed price.

Because of the row locks, two concurrent saves of one product see each other's price, so a change is recorded
exactly once. Re-saving identical data changes nothing but ``last_scraped_at``: the job is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from ..db import Database
from ..db.models import Base, Order, PriceHistory, Product, Shop
from ..db.types import utcnow
from .records import Record, to_minor


@dataclass(frozen=True)
class SaveResult:
    created: int
    updated: int
    price_changes: int
    ids: list[int]  # our product ids, in input order (what the search index is updated with)

    def as_dict(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "price_changes": self.price_changes}


async def save_products(db: Database, records: Sequence[Record]) -> SaveResult:
    now = utcnow()
    rows = _dedupe([_product_row(r, now) for r in records], "product_id")
    if not rows:
        return SaveResult(0, 0, 0, [])
    async with db.session() as session, session.begin():
        table = _table(Product)
        inserted = await session.execute(
            _insert_ignoring(db, table, "product_id").returning(table.c.id, table.c.product_id), rows
        )
        created = {product_id: pk for pk, product_id in inserted.all()}
        existing_keys = sorted(r["product_id"] for r in rows if r["product_id"] not in created)
        current: dict[str, tuple[int, int, str]] = {}
        if existing_keys:
            found = await session.execute(
                select(Product.product_id, Product.id, Product.price_minor, Product.currency)
                .where(Product.product_id.in_(existing_keys))
                .order_by(Product.product_id)
                .with_for_update()
            )
            current = {key: (pk, price, currency) for key, pk, price, currency in found.all()}
        history: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in rows:
            key = row["product_id"]
            if key in created:
                history.append(_history(created[key], row, now))
                continue
            pk, price, currency = current[key]
            updates.append({"id": pk, **{k: v for k, v in row.items() if k not in ("product_id", "created_at")}})
            if (price, currency) != (row["price_minor"], row["currency"]):
                history.append(_history(pk, row, now))
        if updates:
            await session.execute(update(Product), updates)
        if history:
            await session.execute(insert(PriceHistory), history)
    ids = {**created, **{k: v[0] for k, v in current.items()}}
    changes = len(history) - len(created)
    return SaveResult(len(created), len(updates), changes, [ids[r["product_id"]] for r in rows])


async def save_shops(db: Database, records: Sequence[Record]) -> int:
    now = utcnow()
    rows = _dedupe([_shop_row(r, now) for r in records], "shop_id")
    if rows:
        async with db.session() as session, session.begin():
            await _upsert(session, db, _table(Shop), rows, ["shop_id"], skip=("created_at",))
    return len(rows)


async def save_orders(db: Database, records: Sequence[Record]) -> int:
    now = utcnow()
    rows = _dedupe([_order_row(r, now) for r in records], "order_id", "account_id")
    if rows:
        async with db.session() as session, session.begin():
            await _upsert(session, db, _table(Order), rows, ["account_id", "order_id"], skip=())
    return len(rows)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _insert_ignoring(db: Database, table: Table, key: str) -> Insert:
    dialect = sqlite if db.is_sqlite else postgresql
    return dialect.insert(table).on_conflict_do_nothing(index_elements=[key])  # type: ignore[no-any-return]


async def _upsert(
    session: AsyncSession,
    db: Database,
    table: Table,
    rows: list[dict[str, Any]],
    keys: list[str],
    skip: tuple[str, ...],
) -> None:
    statement = (sqlite if db.is_sqlite else postgresql).insert(table)
    changed = {name: statement.excluded[name] for name in rows[0] if name not in keys and name not in skip}
    await session.execute(statement.on_conflict_do_update(index_elements=keys, set_=changed), rows)


def _dedupe(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """The last record of each key wins (a chunk may list a product twice); sorted, so locks come in one order."""
    unique = {tuple(row[k] for k in keys): row for row in rows}
    return [unique[k] for k in sorted(unique)]


def _history(product_pk: int, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "product_id": product_pk,
        "price_minor": row["price_minor"],
        "currency": row["currency"],
        "recorded_at": now,
    }


def _product_row(record: Record, now: datetime) -> dict[str, Any]:
    return {
        "product_id": str(record["product_id"]),
        "shop_id": record.get("shop_id"),
        "shop_name": record.get("shop_name"),
        "name": record["name"],
        "description": record.get("description"),
        "price_minor": to_minor(record["price"]),
        "currency": record.get("currency") or "IDR",
        "stock": record.get("stock"),
        "rating": record.get("rating"),
        "images": list(record.get("images") or []),
        "url": record.get("url"),
        "last_scraped_at": now,
        "created_at": now,
    }


def _shop_row(record: Record, now: datetime) -> dict[str, Any]:
    return {
        "shop_id": str(record["shop_id"]),
        "name": record["name"],
        "url": record.get("url"),
        "rating": record.get("rating"),
        "follower_count": record.get("follower_count"),
        "product_count": record.get("product_count"),
        "location": record.get("location"),
        "last_scraped_at": now,
        "created_at": now,
    }


def _order_row(record: Record, now: datetime) -> dict[str, Any]:
    return {
        "account_id": str(record["account_id"]),
        "order_id": str(record["order_id"]),
        "status": record["status"],
        "total_minor": to_minor(record["total"]),
        "currency": record.get("currency") or "IDR",
        "ordered_at": datetime.fromisoformat(record["ordered_at"]),
        "items": list(record.get("items") or []),
        "last_scraped_at": now,
    }
