"""Data processing on its own: validation rules, saving with price history, and the search index (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from jobs.db import Database
from jobs.db.models import PriceHistory, Product
from jobs.scraping.errors import UnknownRuleSet
from jobs.scraping.records import to_minor
from jobs.scraping.search import search_products, update_index
from jobs.scraping.storage import save_products
from jobs.scraping.validation import RULE_SETS, parse_rules, validate_records

from .scraping_fixtures import scraper_db  # noqa: F401


def product(product_id: str, name: str, price: float | int = 15000, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "product_id": product_id,
        "shop_id": "1",
        "shop_name": "Toko Makmur Jaya",
        "name": name,
        "description": None,
        "price": price,
        "currency": "IDR",
        "stock": 3,
        "rating": 4.5,
        "images": [],
        "url": f"https://shop.test/product/1/{product_id}",
    }
    record.update(extra)
    return record


def test_rules_report_every_error_per_field_and_per_record() -> None:
    rules = parse_rules(
        [
            {"field": "productId", "type": "string", "required": True},
            {"field": "price", "type": "number", "required": True, "min": 0},
            {"field": "name", "type": "string", "min": 2, "max": 5},
            {"field": "sku", "type": "string", "pattern": "[A-Z]{3}-\\d+"},
            {"field": "shop.id", "type": "integer", "max": 10},
        ]
    )
    records = [
        {"productId": "p1", "price": 10, "name": "ok", "sku": "ABC-1", "shop": {"id": 3}},
        {"price": -1, "name": "x", "sku": "abc-1", "shop": {"id": 11}},
        {"productId": 7, "price": True, "name": "toolong"},
        "not a record",
    ]
    report = validate_records(records, rules, "productId")
    assert [r["productId"] for r in report.valid] == ["p1"]
    assert report.invalid_records == 3
    errors = [(e.record, e.key, e.field, e.error) for e in report.errors]
    assert errors == [
        (1, None, "productId", "is required"),
        (1, None, "price", "must be at least 0"),
        (1, None, "name", "must be at least 2 in length"),
        (1, None, "sku", "must match [A-Z]{3}-\\d+"),
        (1, None, "shop.id", "must be at most 10"),
        (2, "7", "productId", "must be of type string, got int"),
        (2, "7", "price", "must be of type number, got bool"),
        (2, "7", "name", "must be at most 5 in length"),
        (3, None, "", "must be an object, got str"),
    ]


def test_rule_sets_are_named_and_bad_rules_are_refused() -> None:
    assert parse_rules("product") is RULE_SETS["product"]
    with pytest.raises(UnknownRuleSet, match="no rule set named 'nope'"):
        parse_rules("nope")
    with pytest.raises(UnknownRuleSet, match="pattern applies to strings only"):
        parse_rules([{"field": "price", "type": "number", "pattern": "1"}])
    with pytest.raises(UnknownRuleSet, match="Extra inputs are not permitted"):
        parse_rules([{"field": "price", "type": "number", "minimum": 1}])
    product_rules = RULE_SETS["product"]
    assert validate_records([product("a1", "Kopi")], product_rules, "product_id").invalid_records == 0
    bad = validate_records([product("a 1", "", price=-5, rating=6)], product_rules, "product_id")
    assert {e.field for e in bad.errors} == {"product_id", "name", "price", "rating", "url"}  # url: the space


def test_amounts_become_exact_minor_units() -> None:
    assert [to_minor(v) for v in (19.99, 0.1 + 0.2, 150000, "12.345", 0)] == [1999, 30, 15000000, 1235, 0]


async def test_saving_upserts_and_keeps_a_price_history(scraper_db: Database) -> None:  # noqa: F811
    first = await save_products(scraper_db, [product("a1", "Kopi Gayo", 15000), product("a2", "Teh Melati", 8000)])
    assert (first.created, first.updated, first.price_changes) == (2, 0, 0)
    again = await save_products(scraper_db, [product("a1", "Kopi Gayo", 15000), product("a2", "Teh Melati", 9500.5)])
    assert (again.created, again.updated, again.price_changes) == (0, 2, 1)
    assert again.ids == first.ids
    twice = await save_products(scraper_db, [product("a3", "X", 1), product("a3", "X", 2)])  # last one wins
    assert (twice.created, len(twice.ids)) == (1, 1)
    async with scraper_db.session() as session:
        teh = await session.scalar(select(Product).where(Product.product_id == "a2"))
        assert teh is not None and teh.price_minor == 950050
        history = list(
            await session.scalars(
                select(PriceHistory.price_minor).where(PriceHistory.product_id == teh.id).order_by(PriceHistory.id)
            )
        )
    assert history == [800000, 950050]


async def test_the_search_index_indexes_updates_deletes_and_ranks(scraper_db: Database) -> None:  # noqa: F811
    saved = await save_products(
        scraper_db,
        [
            product("s1", "Kopi Arabika Gayo", description="biji kopi pilihan"),
            product("s2", "Café Latte Sachet", shop_name="Warung Kopi"),
            product("s3", "Teh Hijau Melati"),
        ],
    )
    ids = dict(zip(["s1", "s2", "s3"], saved.ids, strict=True))
    assert (await update_index(scraper_db, "index", saved.ids)).indexed == 3
    assert (await update_index(scraper_db, "index", saved.ids)).indexed == 3  # idempotent

    kopi = await search_products(scraper_db, "KOPI")
    assert [h.product_id for h in kopi] == ["s1", "s2"]  # name matches rank above shop-name matches
    assert [h.product_id for h in await search_products(scraper_db, "cafe")] == ["s2"]  # accents folded
    assert [h.product_id for h in await search_products(scraper_db, "ara", prefix=True)] == ["s1"]
    assert await search_products(scraper_db, 'kopi" OR teh*') == []  # words only: no query syntax gets through
    assert await search_products(scraper_db, "   ") == []

    await save_products(scraper_db, [product("s3", "Teh Hijau Jasmine")])
    update = await update_index(scraper_db, "update", [ids["s3"], 999_999])
    assert (update.indexed, update.missing) == (1, 1)
    assert [h.product_id for h in await search_products(scraper_db, "jasmine")] == ["s3"]
    assert await search_products(scraper_db, "melati") == []

    assert (await update_index(scraper_db, "delete", [ids["s1"]])).deleted == 1
    assert [h.product_id for h in await search_products(scraper_db, "kopi")] == ["s2"]
