"""The worker lifecycle hooks of every job package, composed into one pair for ``settings.py``::

    WorkerSettings = worker_settings(jobs=ALL_JOBS, queues=QUEUES, on_startup=on_startup, on_shutdown=on_shutdown)

Startup opens what the jobs share per process (database engines, prepared font, SMTP pools, HTTP clients) and
fails fast on a missing font or an unmigrated database; shutdown closes them. Jobs also work without these hooks:
they then open the same things on first use.
"""

from __future__ import annotations

from queue_system import JobContext

from .certificates import certificate_hooks
from .scraping import scraping_hooks

_certificates_startup, _certificates_shutdown = certificate_hooks()
_scraping_startup, _scraping_shutdown = scraping_hooks()


async def on_startup(ctx: JobContext) -> None:
    await _certificates_startup(ctx)
    await _scraping_startup(ctx)


async def on_shutdown(ctx: JobContext) -> None:
    try:
        await _scraping_shutdown(ctx)
    finally:
        await _certificates_shutdown(ctx)
