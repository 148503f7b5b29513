"""The product queues' pace and retention (seed 003), for ``worker_settings(limits=..., retention=...)``.

The seed's numbers are the defaults: ``product-batch-items`` admits 5 job starts in any 10 s window and runs 2
at once, across every worker (the framework's shared rate limit and concurrency cap, enforced in Redis before
a job takes a worker slot); it keeps the last 10 completed and 5 failed job records. ``batch-status`` runs 5 at
once. Each can be raised with an application setting (``PRODUCT_ITEMS_RATE``, ``PRODUCT_ITEMS_WINDOW_S``,
``PRODUCT_ITEMS_CONCURRENCY``, ``PRODUCT_ITEMS_KEEP_COMPLETED``, ``PRODUCT_ITEMS_KEEP_FAILED``,
``BATCH_STATUS_CONCURRENCY``). Declare them in every worker that serves these queues (the framework publishes
the limits of the last worker started).
"""

from __future__ import annotations

from queue_system import QueueLimits, QueueRetention, RateLimit

from ..config import AppSettings
from ..queues import BATCH_STATUS, PRODUCT_BATCH_ITEMS


def product_limits(settings: AppSettings) -> dict[str, QueueLimits]:
    items = QueueLimits(
        rate=RateLimit(settings.product_items_rate, per=settings.product_items_window_s),
        concurrency=settings.product_items_concurrency,
    )
    return {PRODUCT_BATCH_ITEMS: items, BATCH_STATUS: QueueLimits(concurrency=settings.batch_status_concurrency)}


def product_retention(settings: AppSettings) -> dict[str, QueueRetention]:
    keep = QueueRetention.of(completed=settings.product_items_keep_completed, failed=settings.product_items_keep_failed)
    return {PRODUCT_BATCH_ITEMS: keep}
