"""``queue-system enqueue`` and ``size``: put a job on a queue from the shell, and see how full queues are."""

from __future__ import annotations

import json

import click

from ..client import Client
from .common import emit, json_option, parse_json_value, parse_tags, run_async, with_client


@click.command()
@click.argument("function")
@click.argument("args", nargs=-1)
@click.option("--kwargs", "kwargs_json", default="{}", help="Keyword arguments as a JSON object.")
@click.option("--queue", help="Queue (default: the function's declared queue).")
@click.option("--priority", help="critical, high, normal, low or background.")
@click.option("--defer-by", type=float, help="Seconds to wait before the job may run.")
@click.option("--job-id", help="Job id; a taken id enqueues nothing and exits 1.")
@click.option("--tag", "tags", multiple=True, help="key=value tag (repeatable).")
@json_option
def enqueue(
    function: str,
    args: tuple[str, ...],
    kwargs_json: str,
    queue: str | None,
    priority: str | None,
    defer_by: float | None,
    job_id: str | None,
    tags: tuple[str, ...],
    as_json: bool,
) -> None:
    """Enqueue FUNCTION with ARGS (each parsed as JSON when it is valid JSON, else taken as a string)."""
    try:
        kwargs = json.loads(kwargs_json)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--kwargs") from exc
    if not isinstance(kwargs, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--kwargs")

    async def action(client: Client) -> dict[str, object]:
        job = await client.enqueue_job(
            function,
            *[parse_json_value(a) for a in args],
            _queue=queue,
            _priority=priority,
            _defer_by=defer_by,
            _job_id=job_id,
            _tags=parse_tags(tags),
            **kwargs,
        )
        return {"job_id": job.job_id, "queue": job.queue, "duplicate": job.duplicate}

    result = run_async(with_client(action))
    emit(
        result,
        as_json,
        lambda r: f"{'duplicate, not enqueued' if r['duplicate'] else 'enqueued'}: {r['job_id']} on {r['queue']}",
    )
    if result["duplicate"]:
        raise SystemExit(1)


@click.command()
@click.argument("queues", nargs=-1)
@json_option
def size(queues: tuple[str, ...], as_json: bool) -> None:
    """Jobs not yet finished per queue (all known queues when none are named)."""

    async def action(client: Client) -> dict[str, int]:
        names = list(queues) or await client.known_queues()
        return {name: await client.queue_size(name) for name in names}

    sizes = run_async(with_client(action))
    emit(sizes, as_json, lambda s: "\n".join(f"{name}\t{count}" for name, count in s.items()) or "no queues yet")
