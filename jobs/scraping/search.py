"""The product search index: SQLite FTS5 by default, PostgreSQL full-text search on PostgreSQL.

``update-search-index`` keeps it in step with the ``products`` table; ``search_products`` is what the API calls.
The index is derived data: every operation reads the products by id from the database (the source of truth),
so replaying an index job, or running two at once, converges on the same index. A product deleted meanwhile is
dropped from the index rather than indexed from stale job data.

Operations (the seed's ``update-elasticsearch`` has the same three):

    index    insert or replace the documents of these products
    update   replace only documents already in the index (the rest are reported as missing)
    delete   remove the documents

Text is indexed and queried with accents folded ("cafe" finds "Café"). Queries are reduced to words (letters
and digits) before they reach either engine, so no user input is ever interpreted as FTS5 or tsquery syntax;
every word must match, and with ``prefix=True`` the words are prefixes (search-as-you-type). Results are
ranked: BM25 on SQLite, ``ts_rank`` on PostgreSQL, name matches weigh most.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..db.models import Product

Operation = Literal["index", "update", "delete"]
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 16

_SQLITE = {
    "indexed": "SELECT rowid FROM product_search WHERE rowid IN :ids",
    "delete": "DELETE FROM product_search WHERE rowid IN :ids",
    "insert": "INSERT INTO product_search (rowid, name, shop_name, description) "
    "VALUES (:id, :name, :shop_name, :description)",
    "search": "SELECT rowid AS id, bm25(product_search, 10.0, 4.0, 1.0) AS score FROM product_search "
    "WHERE product_search MATCH :query ORDER BY score LIMIT :limit OFFSET :offset",
}
_POSTGRES = {
    "indexed": "SELECT id FROM product_search WHERE id IN :ids",
    "delete": "DELETE FROM product_search WHERE id IN :ids",
    "insert": "INSERT INTO product_search (id, name, shop_name, description) "
    "VALUES (:id, :name, :shop_name, :description) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
    "shop_name = excluded.shop_name, description = excluded.description",
    "search": "SELECT id, ts_rank(document, to_tsquery('simple', :query)) AS score FROM product_search "
    "WHERE document @@ to_tsquery('simple', :query) ORDER BY score DESC, id LIMIT :limit OFFSET :offset",
}


@dataclass(frozen=True)
class IndexResult:
    operation: str
    indexed: int = 0
    deleted: int = 0
    missing: int = 0  # update: not in the index; index: no such product (dropped from the index)

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "indexed": self.indexed, "deleted": self.deleted, "missing": self.missing}


@dataclass(frozen=True)
class SearchHit:
    id: int
    product_id: str
    name: str
    shop_name: str | None
    price_minor: int
    currency: str
    score: float


async def update_index(db: Database, operation: Operation, product_ids: Sequence[int]) -> IndexResult:
    ids = sorted(set(product_ids))
    sql = _SQLITE if db.is_sqlite else _POSTGRES
    if not ids:
        return IndexResult(operation)
    async with db.session() as session, session.begin():
        if operation == "delete":
            gone = await session.execute(_in(sql["delete"]), {"ids": ids})
            return IndexResult(operation, deleted=_rowcount(gone))
        targets = ids
        if operation == "update":
            targets = sorted(await session.scalars(_in(sql["indexed"]), {"ids": ids}))
        rows = await _documents(session, targets)
        found = {row["id"] for row in rows}
        vanished = [i for i in targets if i not in found]
        # FTS5 has no upsert: replace = delete then insert (PostgreSQL upserts, and deletes only the vanished).
        stale = targets if db.is_sqlite else vanished
        if stale:
            await session.execute(_in(sql["delete"]), {"ids": stale})
        if rows:
            await session.execute(text(sql["insert"]), rows)
    return IndexResult(operation, indexed=len(rows), missing=len(ids) - len(rows))


async def search_products(
    db: Database, query: str, *, limit: int = 20, offset: int = 0, prefix: bool = False
) -> list[SearchHit]:
    """Products matching every word of ``query``, best first (what ``GET /api/products/search?q=`` returns)."""
    words = _WORD.findall(fold(query).lower())[:MAX_QUERY_WORDS]
    if not words or limit <= 0:
        return []
    sql = _SQLITE if db.is_sqlite else _POSTGRES
    star = "*" if prefix else ""
    if db.is_sqlite:
        match = " ".join(f'"{w}"{star}' for w in words)  # quoted: words, never operators
    else:
        match = " & ".join(f"{w}:*" if prefix else w for w in words)
    async with db.session() as session:
        ranked = (await session.execute(text(sql["search"]), {"query": match, "limit": limit, "offset": offset})).all()
        if not ranked:
            return []
        products = {
            p.id: p for p in await session.scalars(select(Product).where(Product.id.in_([r.id for r in ranked])))
        }
    return [
        SearchHit(p.id, p.product_id, p.name, p.shop_name, p.price_minor, p.currency, float(r.score))
        for r in ranked
        if (p := products.get(r.id)) is not None
    ]


async def _documents(session: AsyncSession, ids: Sequence[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = await session.execute(
        select(Product.id, Product.name, Product.shop_name, Product.description).where(Product.id.in_(ids))
    )
    return [
        {key: fold(value) if isinstance(value, str) else value for key, value in row._mapping.items()} for row in rows
    ]


def fold(text: str) -> str:
    """Accents off ("Café" → "Cafe"), so "cafe" finds it on PostgreSQL too (whose ``unaccent`` is an extension
    that needs a superuser to install); FTS5's ``remove_diacritics`` does the same on SQLite."""
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _in(sql: str) -> Any:
    return text(sql).bindparams(bindparam("ids", expanding=True))


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
