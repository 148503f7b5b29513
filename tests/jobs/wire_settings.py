"""Worker settings for the WhatsApp and product tests' worker processes: the jobs of both systems, wired exactly
as ``settings.py`` wires them (recovery hook, template-sync cron, product queue limits and retention), with the
application settings read from the environment the test gives the process."""

from __future__ import annotations

from jobs.config import AppSettings
from jobs.products.jobs import PRODUCT_JOBS
from jobs.products.queue_settings import product_limits, product_retention
from jobs.queues import BATCH_STATUS, PRODUCT_BATCH_ITEMS, TEMPLATE_SYNC, WHATSAPP_BLAST
from jobs.whatsapp.jobs import WHATSAPP_JOBS, whatsapp_crons
from jobs.whatsapp.recovery import blast_recovery
from queue_system import worker_settings

APP = AppSettings.from_env()

WorkerSettings = worker_settings(
    jobs=[*WHATSAPP_JOBS, *PRODUCT_JOBS],
    queues=[WHATSAPP_BLAST, TEMPLATE_SYNC, PRODUCT_BATCH_ITEMS, BATCH_STATUS],
    concurrency=4,
    poll_delay_s=0.05,
    cron_jobs=whatsapp_crons(APP),
    recovery=[blast_recovery(APP)],
    limits=product_limits(APP),
    retention=product_retention(APP),
)
