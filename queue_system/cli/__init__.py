"""The ``queue-system`` command. Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 Redis unavailable, 5 config."""

from __future__ import annotations

import click

from ..crypto import generate_key
from .common import guarded
from .failed import failed
from .jobs import enqueue, size
from .worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="queue-system")
def main() -> None:
    """queue-system: background jobs on arq and Redis."""


@main.command()
@guarded
def keygen() -> None:
    """Print a new key for QS_ENCRYPTION_KEYS (put it first to rotate; keep old keys after it)."""
    click.echo(generate_key())


main.add_command(worker)
main.add_command(enqueue)
main.add_command(size)
main.add_command(failed)

__all__ = ["main"]
