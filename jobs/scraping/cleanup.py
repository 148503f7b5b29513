"""The scraper system's clean-up: old rows by age, and temporary files by age and extension.

Old data: each cleanable table has one timestamp column that says how old a row is (``CLEANABLE``); nothing else
can be named, so a job can never be talked into deleting from a table it does not know. Deleting products also
drops their search documents (the index has no foreign key to cascade; see the migration) and, by cascade, their
price history. ``dry_run`` counts what would go and deletes nothing.

Temp files: only regular files under the configured roots are ever touched. Every directory the job is given is
resolved (``..`` and symlinks included) and must lie inside a root, or the job fails permanently with
``PathOutsideRoots`` before anything is deleted. The walk does not follow symlinks, and a symlink is never
deleted through, so a link planted inside a root cannot lead the job outside it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, select, text

from ..db import Database
from ..db.models import Base, Order, PriceHistory, Product, ScrapeBatch, Shop
from ..db.types import utcnow
from .errors import PathOutsideRoots, UnknownTable

CLEANABLE: dict[str, tuple[type[Base], str]] = {
    "products": (Product, "last_scraped_at"),
    "price_history": (PriceHistory, "recorded_at"),
    "orders": (Order, "last_scraped_at"),
    "shops": (Shop, "last_scraped_at"),
    "scrape_batches": (ScrapeBatch, "created_at"),  # their per-URL rows go with them (cascade)
}
_DROP_FROM_INDEX = {
    True: "DELETE FROM product_search WHERE rowid IN (SELECT id FROM products WHERE last_scraped_at < :cutoff)",
    False: "DELETE FROM product_search WHERE id IN (SELECT id FROM products WHERE last_scraped_at < :cutoff)",
}


async def cleanup_old_rows(
    db: Database, tables: Sequence[str], older_than_days: float, *, dry_run: bool
) -> dict[str, int]:
    """Rows older than ``older_than_days`` per table: deleted, or only counted with ``dry_run``."""
    unknown = sorted(set(tables) - set(CLEANABLE))
    if unknown:
        raise UnknownTable(f"cannot clean {unknown}; cleanable tables: {', '.join(sorted(CLEANABLE))}")
    cutoff = utcnow() - timedelta(days=older_than_days)
    counts: dict[str, int] = {}
    async with db.session() as session, session.begin():
        for name in dict.fromkeys(tables):
            model, column_name = CLEANABLE[name]
            old: ColumnElement[bool] = getattr(model, column_name) < cutoff
            if dry_run:
                counts[name] = int(await session.scalar(select(func.count()).select_from(model).where(old)) or 0)
                continue
            if model is Product:
                await session.execute(
                    text(_DROP_FROM_INDEX[db.is_sqlite]).bindparams(
                        bindparam("cutoff", type_=Product.last_scraped_at.type)
                    ),
                    {"cutoff": cutoff},
                )
            result = await session.execute(delete(model).where(old).execution_options(synchronize_session=False))
            counts[name] = int(getattr(result, "rowcount", 0) or 0)
    return counts


@dataclass
class TempCleanup:
    files: int = 0
    bytes: int = 0
    dry_run: bool = False
    paths: list[str] = field(default_factory=list)  # the first ones, for the job's result
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "dry_run": self.dry_run,
            "paths": self.paths,
            "errors": self.errors,
        }


def resolve_inside(directory: str, roots: Sequence[Path]) -> Path:
    """``directory`` (relative ones are taken relative to the first root) resolved, if it is inside a root."""
    candidate = Path(directory).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    resolved = candidate.resolve()
    if not any(resolved == root or resolved.is_relative_to(root) for root in roots):
        raise PathOutsideRoots(
            f"{directory!r} resolves to {resolved}, outside the temp roots {[str(r) for r in roots]}; nothing deleted"
        )
    return resolved


def cleanup_temp_files(
    directories: Sequence[str],
    roots: Sequence[Path],
    *,
    older_than_days: float,
    extensions: Sequence[str],
    dry_run: bool,
    list_limit: int = 100,
) -> TempCleanup:
    """Delete regular files older than ``older_than_days`` with one of ``extensions`` (all files if empty)."""
    targets = [resolve_inside(d, roots) for d in directories]  # every path is checked before anything is deleted
    suffixes = tuple(e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions)
    cutoff = time.time() - older_than_days * 86400
    report = TempCleanup(dry_run=dry_run)
    for target in targets:
        if not target.is_dir():
            continue
        for folder, _dirs, names in os.walk(target, followlinks=False):
            for name in names:
                path = Path(folder, name)
                if suffixes and not name.lower().endswith(suffixes):
                    continue
                try:
                    info = path.lstat()
                    if not path.is_file() or path.is_symlink() or info.st_mtime >= cutoff:
                        continue
                    if not dry_run:
                        path.unlink()
                except OSError as exc:
                    report.errors.append(f"{path}: {exc.strerror or exc}")
                    continue
                report.files += 1
                report.bytes += info.st_size
                if len(report.paths) < list_limit:
                    report.paths.append(str(path))
    return report
