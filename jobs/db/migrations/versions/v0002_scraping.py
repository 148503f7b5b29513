"""Shops, products, price history, orders, batch-scrape progress and the product search index (seed 002).

The search index is dialect-specific DDL, kept out of the ORM models (see jobs/db/schema_filter.py):

* SQLite: an FTS5 virtual table whose rowid is ``products.id``; ``unicode61 remove_diacritics 2`` folds case and
  accents, so "kopi" finds "Kopi" and "cafe" finds "Café".
* PostgreSQL: a table keyed by ``products.id`` with a stored, generated ``tsvector`` (the ``simple``
  configuration: product names are Indonesian and English mixed, and no stemmer fits both) and a GIN index.

Revision ID: s0002
Revises: c0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jobs.db.types import UtcDateTime

revision: str = "s0002"
down_revision: str | None = "c0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE product_search USING fts5("
    "name, shop_name, description, tokenize = 'unicode61 remove_diacritics 2')"
)
_POSTGRES_SEARCH = (
    "CREATE TABLE product_search ("
    " id integer PRIMARY KEY,"
    " name text NOT NULL,"
    " shop_name text,"
    " description text,"
    " document tsvector GENERATED ALWAYS AS ("
    "  setweight(to_tsvector('simple', coalesce(name, '')), 'A') ||"
    "  setweight(to_tsvector('simple', coalesce(shop_name, '')), 'B') ||"
    "  setweight(to_tsvector('simple', coalesce(description, '')), 'C')) STORED)",
    "CREATE INDEX ix_product_search_document ON product_search USING gin (document)",
)


def upgrade() -> None:
    op.create_table(
        "shops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("follower_count", sa.Integer(), nullable=True),
        sa.Column("product_count", sa.Integer(), nullable=True),
        sa.Column("location", sa.String(200), nullable=True),
        sa.Column("last_scraped_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shops")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_shops_shop_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_shops_last_scraped_at"), "shops", ["last_scraped_at"])
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("shop_id", sa.String(64), nullable=True),
        sa.Column("shop_name", sa.String(300), nullable=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Float(), nullable=True),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("last_scraped_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("product_id", name=op.f("uq_products_product_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_products_shop_id"), "products", ["shop_id"])
    op.create_index(op.f("ix_products_last_scraped_at"), "products", ["last_scraped_at"])
    op.create_table(
        "price_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_price_history_product_id_products"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_history")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_price_history_product_id"), "price_history", ["product_id"])
    op.create_index(op.f("ix_price_history_recorded_at"), "price_history", ["recorded_at"])
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("ordered_at", UtcDateTime(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("last_scraped_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("account_id", "order_id", name=op.f("uq_orders_account_id_order_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_orders_ordered_at"), "orders", ["ordered_at"])
    op.create_index(op.f("ix_orders_last_scraped_at"), "orders", ["last_scraped_at"])
    op.create_table(
        "scrape_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scrape_batches")),
        sa.UniqueConstraint("job_id", name=op.f("uq_scrape_batches_job_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_scrape_batches_created_at"), "scrape_batches", ["created_at"])
    op.create_table(
        "scrape_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["scrape_batches.id"],
            name=op.f("fk_scrape_items_batch_id_scrape_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scrape_items")),
        sa.UniqueConstraint("batch_id", "url", name=op.f("uq_scrape_items_batch_id_url")),
        sqlite_autoincrement=True,
    )
    statements = (_SQLITE_SEARCH,) if op.get_bind().dialect.name == "sqlite" else _POSTGRES_SEARCH
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE product_search")
    op.drop_table("scrape_items")
    op.drop_table("scrape_batches")
    op.drop_table("orders")
    op.drop_table("price_history")
    op.drop_table("products")
    op.drop_table("shops")
