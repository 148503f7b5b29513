"""WorkerSettings for the test app; the environment (REDIS_URL, QS_*) is read at import, like a real app."""

from __future__ import annotations

from queue_system import worker_settings

from .jobs import ALL

WorkerSettings = worker_settings(jobs=ALL, queues=["alpha", "beta"], concurrency=4, poll_delay_s=0.01)
