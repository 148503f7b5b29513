"""``queue-system worker``: run a worker process for a settings class."""

from __future__ import annotations

import os
import sys

import click
from arq.utils import import_string

from ..errors import ConfigError
from ..logging_setup import configure_logging
from ..worker import create_worker
from .common import guarded


def load_settings(path: str) -> object:
    """Import ``module.Attribute`` from the current directory, as ``arq module.WorkerSettings`` does."""
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return import_string(path)
    except ImportError as exc:
        raise ConfigError(f"cannot import worker settings {path!r}: {exc}") from exc


@click.command()
@click.argument("settings")
@click.option("--queue", "-q", "queues", multiple=True, help="Serve only these queues (repeatable), in this order.")
@click.option("--concurrency", "-c", type=click.IntRange(min=1), help="Jobs run at once by this process.")
@click.option("--burst", is_flag=True, help="Run until the queues are empty, then exit.")
@guarded
def worker(settings: str, queues: tuple[str, ...], concurrency: int | None, burst: bool) -> None:
    """Run a worker for SETTINGS (e.g. settings.WorkerSettings) serving one or more queues."""
    settings_cls = load_settings(settings)
    config = getattr(settings_cls, "qs_config", None)
    if config is None:
        raise ConfigError(f"{settings} was not built with queue_system.worker_settings(...)")
    configure_logging(fmt=config.effective_log_format, level=config.log_level)
    served = tuple(getattr(settings_cls, "qs_queues", ()))
    unknown = set(queues) - set(served)
    if unknown:
        raise ConfigError(f"{settings} does not serve queue(s) {sorted(unknown)}; it serves {served}")
    create_worker(settings_cls, queues=queues or None, concurrency=concurrency, burst=burst).run()
