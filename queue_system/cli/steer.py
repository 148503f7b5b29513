"""``queue-system pause | resume | abort | clean``: steer queues and jobs, through the public read API only."""

from __future__ import annotations

from typing import Any

import click

from ..api import QueueAPI
from ..types import JobState
from ..views import AbortOutcome
from .common import EXIT_NOT_FOUND, emit, json_option, parse_duration, run_async, with_api

CLEANABLE = [s.value for s in JobState if s is not JobState.ACTIVE]


@click.command()
@click.argument("queue")
@json_option
def pause(queue: str, as_json: bool) -> None:
    """Pause QUEUE: workers take nothing new from it (running jobs finish). Survives worker restarts."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return {"queue": queue, "paused": True, "changed": await api.pause(queue)}

    emit(run_async(with_api(action)), as_json, lambda d: f"{queue} paused" + ("" if d["changed"] else " (already)"))


@click.command()
@click.argument("queue")
@json_option
def resume(queue: str, as_json: bool) -> None:
    """Resume QUEUE: workers take its jobs again, in priority order."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return {"queue": queue, "paused": False, "changed": await api.resume(queue)}

    result = run_async(with_api(action))
    emit(result, as_json, lambda d: f"{queue} resumed" + ("" if d["changed"] else " (was not paused)"))


@click.command()
@click.argument("job_id")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=5.0, help="Seconds to wait for a running job.")
@json_option
def abort(job_id: str, wait_s: float, as_json: bool) -> None:
    """Abort JOB_ID: a queued job is removed; a running one is cancelled by its worker. Exit 3 if unknown."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return (await api.abort(job_id, wait_s=wait_s)).to_dict()

    result = run_async(with_api(action))
    emit(result, as_json, _abort_text)
    if result["outcome"] == AbortOutcome.NOT_FOUND:
        raise SystemExit(EXIT_NOT_FOUND)


def _abort_text(d: dict[str, Any]) -> str:
    if d["outcome"] == AbortOutcome.NOT_FOUND:
        return f"{d['job_id']}: no such job (nothing changed)"
    return f"{d['job_id']}: {d['outcome']} (was {d['previous_state']}, now {d['state']})"


@click.command()
@click.argument("queue")
@click.option("--state", "-s", type=click.Choice(CLEANABLE), required=True)
@click.option(
    "--older-than", default="0", help="Only jobs finished (queued states: enqueued) this long ago: 90s, 15m, 2h, 7d."
)
@click.option("--limit", type=click.IntRange(min=1), help="Remove at most this many.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed for waiting, delayed, retrying).")
@json_option
def clean(queue: str, state: str, older_than: str, limit: int | None, yes: bool, as_json: bool) -> None:
    """Remove QUEUE's jobs in one state, in batches; counts stay exact."""
    seconds = parse_duration(older_than)
    if state in ("waiting", "delayed", "retrying") and not yes:
        click.confirm(f"Remove {state} jobs of {queue} permanently (they will never run)?", abort=True)

    async def action(api: QueueAPI) -> dict[str, Any]:
        removed = await api.clean(queue, state, older_than_s=seconds, limit=limit)
        return {"queue": queue, "state": state, "removed": removed}

    emit(run_async(with_api(action)), as_json, lambda d: f"removed {d['removed']} {state} job(s) from {queue}")
