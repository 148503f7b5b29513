"""Which database objects belong to the ORM models, for Alembic's autogenerate and the models-match test.

The scraper's full-text index (``product_search``) is created by migration s0002 with dialect-specific DDL: an
FTS5 virtual table on SQLite, which brings shadow tables of its own (``product_search_data``, ``…_idx`` …), and a
tsvector table with a GIN index on PostgreSQL. Neither can be an ORM model, so comparisons leave them out;
without this, ``queue-system db revision --autogenerate`` would propose dropping them.
"""

from __future__ import annotations

SEARCH_INDEX_PREFIX = "product_search"


def is_search_index_table(name: str | None) -> bool:
    return name is not None and (name == SEARCH_INDEX_PREFIX or name.startswith(SEARCH_INDEX_PREFIX + "_"))


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: everything except the search index's tables."""
    return not (type_ == "table" and is_search_index_table(name))
