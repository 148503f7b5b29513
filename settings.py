"""The composition root: which jobs and queues the worker runs. Nothing else lives here.

queue-system worker settings.WorkerSettings            # every queue in one process (recommended)
queue-system worker settings.WorkerSettings -q cleanup  # a subset
arq settings.WorkerSettings                             # the stock arq worker: the first queue only
"""

from __future__ import annotations

from jobs import ALL_JOBS, QUEUES
from jobs.hooks import on_shutdown, on_startup
from queue_system import worker_settings

WorkerSettings = worker_settings(jobs=ALL_JOBS, queues=QUEUES, on_startup=on_startup, on_shutdown=on_shutdown)
