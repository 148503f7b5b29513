"""The seed systems' limits that must hold across every worker process, declared once for every worker
(``worker_settings(limits=queue_limits())`` in settings.py): the framework enforces them in Redis.

* email-sending: ``EMAIL_RATE_PER_MINUTE`` emails started per minute (0, the default: unlimited, right for the
  local mail sink; a real provider allows so many, the Laravel seed used 60);
* product-batch-items and batch-status: the product seed's pace and caps (jobs/products/queue_settings.py).
"""

from __future__ import annotations

from queue_system import QueueLimits, RateLimit

from .config import AppSettings
from .products.queue_settings import product_limits
from .queues import EMAIL_SENDING


def queue_limits(settings: AppSettings | None = None) -> dict[str, QueueLimits]:
    settings = settings or AppSettings.from_env()
    limits: dict[str, QueueLimits] = dict(product_limits(settings))
    if settings.email_rate_per_minute:
        limits[EMAIL_SENDING] = QueueLimits(rate=RateLimit(settings.email_rate_per_minute, per=60))
    return limits
