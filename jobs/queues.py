"""The named queues of the seed systems, in the order a worker serving all of them should prefer."""

from __future__ import annotations

CERTIFICATE_GENERATION = "certificate-generation"
EMAIL_SENDING = "email-sending"
SCRAPING = "scraping"
DATA_PROCESSING = "data-processing"
NOTIFICATIONS = "notifications"
CLEANUP = "cleanup"
PRODUCT_BATCH_ITEMS = "product-batch-items"
BATCH_STATUS = "batch-status"
WHATSAPP_BLAST = "whatsapp-blast"
TEMPLATE_SYNC = "template-sync"

QUEUES = [
    CERTIFICATE_GENERATION,
    EMAIL_SENDING,
    WHATSAPP_BLAST,
    TEMPLATE_SYNC,
    SCRAPING,
    DATA_PROCESSING,
    NOTIFICATIONS,
    PRODUCT_BATCH_ITEMS,
    BATCH_STATUS,
    CLEANUP,
]
