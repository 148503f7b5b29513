"""``queue-system batches [prune]`` and ``queue-system batch ID | cancel ID | retry ID``, through the read API."""

from __future__ import annotations

from typing import Any

import click

from ..api import QueueAPI
from .common import emit, json_option, run_async, with_api


def _line(d: dict[str, Any]) -> str:
    p = d["progress"]
    return (
        f"{d['batch_id']}\t{d['status']}\t{p['percentage']:g}%\t{p['completed']} ok / {p['failed']} failed / "
        f"{p['cancelled']} cancelled / {p['pending']} pending of {p['total']}\t{d['name']}"
    )


@click.group(invoke_without_command=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50)
@json_option
@click.pass_context
def batches(ctx: click.Context, offset: int, limit: int, as_json: bool) -> None:
    """List batches, newest first, with status and progress."""
    if ctx.invoked_subcommand is not None:
        return

    async def action(api: QueueAPI) -> dict[str, Any]:
        page = await api.batches(offset=offset, limit=limit)
        return {"total": page.total, "batches": [b.to_dict() for b in page.batches]}

    emit(
        run_async(with_api(action)),
        as_json,
        lambda d: "\n".join([f"{d['total']} batch(es)", *(_line(b) for b in d["batches"])]),
    )


@batches.command()
@click.option("--hours", type=click.FloatRange(min=0), default=24.0, show_default=True)
@json_option
def prune(hours: float, as_json: bool) -> None:
    """Delete batches that finished more than HOURS ago (Laravel's queue:prune-batches)."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return {"pruned": await api.prune_batches(hours * 3600)}

    emit(run_async(with_api(action)), as_json, lambda d: f"{d['pruned']} batch(es) pruned")


class _ShowByDefault(click.Group):
    """``batch ID`` is short for ``batch show ID``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ShowByDefault)
def batch() -> None:
    """One batch: ``batch ID`` shows it; ``batch cancel ID``, ``batch retry ID``. Exit 3 if unknown."""


@batch.command()
@click.argument("batch_id")
@json_option
def show(batch_id: str, as_json: bool) -> None:
    """Status, progress, callbacks and tags of BATCH_ID."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        info = (await api.batch(batch_id)).to_dict()
        info["failed_jobs"] = sorted(await api.batch_jobs(batch_id, "failed"))
        return info

    emit(run_async(with_api(action)), as_json, _details)


def _details(d: dict[str, Any]) -> str:
    lines = [_line(d), f"run {d['run']}, allow_failures={d['allow_failures']}, fired: {', '.join(d['fired']) or '-'}"]
    lines += [f"{which}: {function}" for which, function in d["callbacks"].items()]
    lines += [f"failed job: {job_id}" for job_id in d["failed_jobs"]]
    return "\n".join(lines)


@batch.command()
@click.argument("batch_id")
@json_option
def cancel(batch_id: str, as_json: bool) -> None:
    """Cancel BATCH_ID: its queued jobs are removed, running ones finish."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return {"batch_id": batch_id, "removed": await api.cancel_batch(batch_id)}

    emit(run_async(with_api(action)), as_json, lambda d: f"{batch_id} cancelled, {d['removed']} queued job(s) removed")


@batch.command()
@click.argument("batch_id")
@json_option
def retry(batch_id: str, as_json: bool) -> None:
    """Retry BATCH_ID's failed jobs from the failed store (fresh tries); the batch re-opens."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return {"batch_id": batch_id, "retried": await api.retry_batch(batch_id)}

    emit(run_async(with_api(action)), as_json, lambda d: f"{d['retried']} failed job(s) of {batch_id} retried")
