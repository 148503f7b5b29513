"""The ``queue-system`` command. Exit codes: 0 ok, 1 error, 2 usage, 3 not found, 4 Redis unavailable, 5 config."""

from __future__ import annotations

from importlib.metadata import entry_points

import click

from ..crypto import generate_key
from .batches import batch, batches
from .common import guarded
from .failed import failed
from .jobs import enqueue, size
from .observe import events, job, jobs, stats
from .ops import health, restart, supervise, workers
from .repair import reindex_command
from .schedules import cancel, deferred, reschedule, schedules
from .steer import abort, clean, pause, resume
from .worker import worker

PLUGIN_GROUP = "queue_system.commands"


class PluginGroup(click.Group):
    """Adds the application's commands (``db upgrade``, ``demo …``), declared in the ``queue_system.commands``
    entry-point group, so the framework never imports the application. Each is imported only when it is used:
    the core commands (and health checks) neither pay for nor break on an application's imports."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *(e.name for e in entry_points(group=PLUGIN_GROUP))})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        entry = next((e for e in entry_points(group=PLUGIN_GROUP) if e.name == cmd_name), None)
        if entry is None:
            return None
        try:
            loaded = entry.load()
        except Exception as exc:
            return _unavailable(cmd_name, f"{entry.value} failed to load: {exc}")
        if not isinstance(loaded, click.Command):
            return _unavailable(cmd_name, f"{entry.value} is not a click command")
        return loaded


def _unavailable(name: str, problem: str) -> click.Command:
    """Stands in for a plugin command that cannot load: listed in --help, and fails clearly when used."""

    def fail() -> None:
        raise click.ClickException(problem)

    return click.Command(
        name,
        callback=fail,
        help=f"(unavailable: {problem})",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=PluginGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
main.add_command(batches)
main.add_command(batch)
for command in (stats, jobs, job, events, pause, resume, abort, clean):
    main.add_command(command)
for command in (schedules, deferred, reschedule, cancel, supervise, restart, workers, health, reindex_command):
    main.add_command(command)


__all__ = ["main"]
