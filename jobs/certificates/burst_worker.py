"""A worker process for the certificate queues that exits when they are drained (used by the demo's
``--workers N``, which starts N of these per stage so rendering uses every core).

    python -m jobs.certificates.burst_worker --queue certificate-generation --concurrency 5

Settings come from the environment, like every worker's (``REDIS_URL``, ``QS_*``, ``DATABASE_URL``, …).
"""

from __future__ import annotations

import click

from queue_system import worker_settings
from queue_system.worker import create_worker

from ..queues import CERTIFICATE_GENERATION, EMAIL_SENDING
from .jobs import CERTIFICATE_JOBS
from .runtime import certificate_hooks


@click.command()
@click.option("--queue", "queues", multiple=True, type=click.Choice([CERTIFICATE_GENERATION, EMAIL_SENDING]))
@click.option("--concurrency", default=5, show_default=True, type=click.IntRange(1, 100))
def main(queues: tuple[str, ...], concurrency: int) -> None:
    """Serve the certificate queues until they are empty."""
    on_startup, on_shutdown = certificate_hooks()
    settings = worker_settings(jobs=CERTIFICATE_JOBS, on_startup=on_startup, on_shutdown=on_shutdown, poll_delay_s=0.02)
    create_worker(settings, queues=queues or None, concurrency=concurrency, burst=True).run()


if __name__ == "__main__":
    main()
