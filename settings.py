"""The composition root: which jobs and queues the worker runs. Nothing else lives here.

queue-system worker settings.WorkerSettings            # every queue in one process (recommended)
queue-system worker settings.WorkerSettings -q cleanup  # a subset
arq settings.WorkerSettings                             # the stock arq worker: the first queue only
"""

from __future__ import annotations

from jobs import ALL_JOBS, QUEUES
from jobs.config import AppSettings
from jobs.hooks import on_shutdown, on_startup
from jobs.limits import queue_limits
from jobs.products.queue_settings import product_retention
from jobs.schedules import alert_rules, cron_jobs
from jobs.whatsapp.jobs import whatsapp_crons
from jobs.whatsapp.recovery import blast_recovery
from queue_system import worker_settings

APP = AppSettings.from_env()

WorkerSettings = worker_settings(
    jobs=ALL_JOBS,
    queues=QUEUES,
    on_startup=on_startup,
    on_shutdown=on_shutdown,
    cron_jobs=[*cron_jobs(), *whatsapp_crons(APP)],
    schedules=alert_rules(),
    recovery=[blast_recovery(APP)],
    limits=queue_limits(APP),
    retention=product_retention(APP),
)
