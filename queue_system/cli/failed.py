"""``queue-system failed …``: the failed-job store from the shell (Laravel's queue:failed/retry/forget/flush/prune)."""

from __future__ import annotations

from typing import Any

import click

from ..client import Client
from ..failed import FailedFilter, FailedJob
from .common import emit, json_option, parse_tags, run_async, with_client


def _filter(queue: str | None, function: str | None, tags: tuple[str, ...]) -> FailedFilter:
    return FailedFilter(queue=queue, function=function, tags=parse_tags(tags))


def filter_options(function: Any) -> Any:
    function = click.option("--queue", help="Only this queue.")(function)
    function = click.option("--function", help="Only this function.")(function)
    return click.option("--tag", "tags", multiple=True, help="Only with this key=value tag (repeatable).")(function)


def _line(entry: dict[str, Any]) -> str:
    return (
        f"{entry['job_id']}\t{entry['queue']}\t{entry['function']}\t{entry['reason']}\t{entry['exc_type']}: "
        f"{entry['message']}"
    )


@click.group()
def failed() -> None:
    """Inspect and replay jobs that used up their tries."""


@failed.command("list")
@filter_options
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50)
@json_option
def list_(
    queue: str | None, function: str | None, tags: tuple[str, ...], offset: int, limit: int, as_json: bool
) -> None:
    """Failed jobs, newest first."""

    async def action(client: Client) -> dict[str, Any]:
        page = await client.failed.list(_filter(queue, function, tags), offset=offset, limit=limit)
        return {"total": page.total, "entries": [_summary(e) for e in page.entries]}

    emit(
        run_async(with_client(action)),
        as_json,
        lambda d: "\n".join([f"{d['total']} failed job(s)", *(_line(e) for e in d["entries"])]),
    )


def _summary(entry: FailedJob) -> dict[str, Any]:
    data = entry.to_dict()
    data.pop("traceback")
    data.pop("payload")
    return data


@failed.command()
@click.argument("job_id")
@json_option
def show(job_id: str, as_json: bool) -> None:
    """Everything stored about one failed job, including the traceback."""

    async def action(client: Client) -> dict[str, Any]:
        data = (await client.failed.get(job_id)).to_dict()
        data.pop("payload")
        return data

    emit(
        run_async(with_client(action)),
        as_json,
        lambda d: "\n".join(f"{k}: {v}" for k, v in d.items() if k != "traceback") + "\n\n" + d["traceback"],
    )


@failed.command()
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed job matching the filters.")
@filter_options
@json_option
def retry(
    job_ids: tuple[str, ...],
    retry_all: bool,
    queue: str | None,
    function: str | None,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Re-enqueue failed jobs with fresh tries (by id, or --all with optional filters)."""
    if bool(job_ids) == retry_all:
        raise click.UsageError("give job ids or --all (not both)")

    async def action(client: Client) -> dict[str, int]:
        if retry_all:
            return {"retried": await client.retry_failed_where(_filter(queue, function, tags))}
        for job_id in job_ids:
            await client.retry_failed(job_id)
        return {"retried": len(job_ids)}

    emit(run_async(with_client(action)), as_json, lambda d: f"retried {d['retried']} job(s)")


@failed.command()
@click.argument("job_ids", nargs=-1, required=True)
@json_option
def forget(job_ids: tuple[str, ...], as_json: bool) -> None:
    """Delete failed jobs from the store without retrying them."""

    async def action(client: Client) -> dict[str, int]:
        return {"forgotten": await client.failed.forget(job_ids)}

    result = run_async(with_client(action))
    emit(result, as_json, lambda d: f"forgot {d['forgotten']} job(s)")
    if result["forgotten"] < len(job_ids):
        raise SystemExit(3)


@failed.command()
@filter_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def flush(queue: str | None, function: str | None, tags: tuple[str, ...], yes: bool, as_json: bool) -> None:
    """Delete every failed job (matching the filters)."""
    if not yes:
        click.confirm("Delete failed jobs permanently?", abort=True)

    async def action(client: Client) -> dict[str, int]:
        return {"flushed": await client.failed.flush(_filter(queue, function, tags))}

    emit(run_async(with_client(action)), as_json, lambda d: f"flushed {d['flushed']} job(s)")


@failed.command()
@click.option("--hours", type=click.FloatRange(min=0), required=True, help="Forget entries older than this.")
@json_option
def prune(hours: float, as_json: bool) -> None:
    """Forget failed jobs older than --hours."""

    async def action(client: Client) -> dict[str, int]:
        return {"pruned": await client.failed.prune(hours * 3600)}

    emit(run_async(with_client(action)), as_json, lambda d: f"pruned {d['pruned']} job(s)")
