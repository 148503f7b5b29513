"""The scraper system (seed 002): scraping jobs, the data-processing chain, notifications and clean-up.

    product_scraping / shop_scraping / order_scraping / batch_scraping     queue scraping
    validate_data → save_product_data (+ shop, order) → update_search_index  queue data-processing
    send_email / send_webhook                                               queue notifications
    cleanup_old_data / cleanup_temp_files                                   queue cleanup
    search_products(db, "kopi arabika")                                     what the API's search calls
    batch_progress(db, job_id)                                              a batch's per-URL progress
    scraping_hooks()                                                        the worker's on_startup / on_shutdown

Module map: http (client) ← politeness, robots; parsers ← jsonld; scrapers, batch (fetch → records);
validation, storage, search, progress (database); mail, webhooks, cleanup; *_jobs (the job declarations).
"""

from __future__ import annotations

from typing import Any

from queue_system import JobFunction

from .cleanup_jobs import CLEANUP_JOBS, cleanup_old_data, cleanup_temp_files
from .notification_jobs import NOTIFICATION_JOBS, send_email, send_webhook
from .processing_jobs import (
    PROCESSING_JOBS,
    save_order_data,
    save_product_data,
    save_shop_data,
    update_search_index,
    validate_data,
)
from .progress import batch_progress
from .runtime import scraping_hooks
from .scraping_jobs import SCRAPING_JOBS, batch_scraping, order_scraping, product_scraping, shop_scraping
from .search import SearchHit, search_products
from .webhooks import verify_signature

SCRAPER_JOBS: list[JobFunction[Any, Any]] = [*SCRAPING_JOBS, *PROCESSING_JOBS, *NOTIFICATION_JOBS, *CLEANUP_JOBS]

__all__ = [
    "SCRAPER_JOBS",
    "SearchHit",
    "batch_progress",
    "batch_scraping",
    "cleanup_old_data",
    "cleanup_temp_files",
    "order_scraping",
    "product_scraping",
    "save_order_data",
    "save_product_data",
    "save_shop_data",
    "scraping_hooks",
    "search_products",
    "send_email",
    "send_webhook",
    "shop_scraping",
    "update_search_index",
    "validate_data",
    "verify_signature",
]
