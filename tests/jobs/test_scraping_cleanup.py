"""Clean-up: old rows by age per table (with a dry run), and temp files that never leave the configured roots."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from jobs.db import Database
from jobs.db.models import PriceHistory, Product
from jobs.db.types import utcnow
from jobs.scraping import cleanup_old_data, cleanup_temp_files
from jobs.scraping.errors import PathOutsideRoots, UnknownTable
from jobs.scraping.runtime import CTX_KEY, ScrapingRuntime
from jobs.scraping.search import search_products, update_index
from jobs.scraping.storage import save_products

from .scraping_fixtures import (  # noqa: F401
    _site_server,
    runtime,
    scraper_app_settings,
    scraper_db,
    scraper_settings,
    site,
)
from .test_scraping_processing import product

DAY = 86400


async def test_old_rows_are_counted_on_a_dry_run_then_deleted_with_their_index_and_history(
    runtime: ScrapingRuntime,  # noqa: F811
    scraper_db: Database,  # noqa: F811
) -> None:
    saved = await save_products(scraper_db, [product(f"c{i}", f"Kopi {i}") for i in range(5)])
    await update_index(scraper_db, "index", saved.ids)
    async with scraper_db.session() as session, session.begin():
        old = utcnow() - timedelta(days=40)
        await session.execute(update(Product).where(Product.id.in_(saved.ids[:3])).values(last_scraped_at=old))
    ctx = {CTX_KEY: runtime}

    dry = await cleanup_old_data(ctx, ["products", "orders"], older_than_days=30, dry_run=True)
    assert dry == {"dry_run": True, "older_than_days": 30, "rows": {"products": 3, "orders": 0}}
    assert len(await search_products(scraper_db, "kopi")) == 5

    done = await cleanup_old_data(ctx, ["products"], older_than_days=30)
    assert done["rows"] == {"products": 3}
    assert sorted(h.product_id for h in await search_products(scraper_db, "kopi")) == ["c3", "c4"]
    async with scraper_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(PriceHistory)) == 2  # cascaded
        assert await session.scalar(text("SELECT count(*) FROM product_search")) == 2
    with pytest.raises(UnknownTable, match="participants"):
        await cleanup_old_data(ctx, ["participants"], older_than_days=1)


def touch(path: Path, age_days: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * 10)
    then = time.time() - age_days * DAY
    os.utime(path, (then, then))
    return path


async def test_temp_files_by_age_and_extension_inside_the_roots_only(
    runtime: ScrapingRuntime,  # noqa: F811
    tmp_path: Path,
) -> None:
    root = tmp_path / "temp-root"
    old_tmp = touch(root / "scrapes" / "a.tmp", 3)
    old_upper = touch(root / "scrapes" / "deep" / "b.TEMP", 3)
    new_tmp = touch(root / "scrapes" / "c.tmp", 0)
    old_keep = touch(root / "scrapes" / "d.json", 3)
    outside = touch(tmp_path / "elsewhere" / "e.tmp", 3)
    (root / "scrapes" / "link.tmp").symlink_to(outside)
    os.utime(root / "scrapes" / "link.tmp", (time.time() - 3 * DAY,) * 2, follow_symlinks=False)
    ctx = {CTX_KEY: runtime}
    args = {"older_than_days": 1, "extensions": [".tmp", "temp"]}

    dry = await cleanup_temp_files(ctx, ["scrapes"], dry_run=True, **args)
    assert (dry["files"], dry["bytes"], dry["dry_run"]) == (2, 20, True)
    assert old_tmp.exists()
    done = await cleanup_temp_files(ctx, [str(root / "scrapes")], **args)
    assert sorted(Path(p).name for p in done["paths"]) == ["a.tmp", "b.TEMP"]
    assert not old_tmp.exists() and not old_upper.exists()
    assert new_tmp.exists() and old_keep.exists() and outside.exists() and (root / "scrapes" / "link.tmp").is_symlink()

    for attempt in ["../elsewhere", str(tmp_path / "elsewhere"), "scrapes/../../elsewhere", "/etc"]:
        with pytest.raises(PathOutsideRoots, match="outside the temp roots"):
            await cleanup_temp_files(ctx, ["scrapes", attempt], **args)
    (root / "escape").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PathOutsideRoots):
        await cleanup_temp_files(ctx, ["escape"], **args)
    assert outside.exists()
