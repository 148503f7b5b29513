"""``queue-system worker``: run a worker process for a settings class."""

from __future__ import annotations

import click

from ..errors import ConfigError
from ..logging_setup import configure_logging
from ..monitor import WorkerOps
from ..worker import create_worker
from ..worker_settings import load_settings
from .common import guarded


@click.command()
@click.argument("settings")
@click.option("--queue", "-q", "queues", multiple=True, help="Serve only these queues (repeatable), in this order.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="Jobs run at once by this process.")
@click.option("--burst", is_flag=True, help="Run until the queues are empty, then exit.")
@click.option("--max-jobs", type=click.IntRange(min=1), help="Finish and exit 0 after this many attempts.")
@click.option("--memory", type=click.FloatRange(min=1), help="Finish and exit 0 once resident memory passes this (MB).")
@click.option("--metrics-port", type=click.IntRange(min=0, max=65535), help="Serve this process's /metrics here.")
@click.option("--metrics-host", default="0.0.0.0", show_default=True, help="Address the metrics server binds.")
@guarded
def worker(
    settings: str,
    queues: tuple[str, ...],
    concurrency: int | None,
    burst: bool,
    max_jobs: int | None,
    memory: float | None,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run a worker for SETTINGS (e.g. settings.WorkerSettings) serving one or more queues."""
    settings_cls = load_settings(settings)
    config = settings_cls.qs_config  # type: ignore[attr-defined]
    configure_logging(fmt=config.effective_log_format, level=config.log_level)
    served = tuple(getattr(settings_cls, "qs_queues", ()))
    unknown = set(queues) - set(served)
    if unknown:
        raise ConfigError(f"{settings} does not serve queue(s) {sorted(unknown)}; it serves {served}")
    ops = WorkerOps(max_jobs=max_jobs, memory_mb=memory, metrics_port=metrics_port, metrics_host=metrics_host)
    create_worker(settings_cls, queues=queues or None, concurrency=concurrency, burst=burst, ops=ops).run()
