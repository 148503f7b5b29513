"""``queue-system stats | jobs | job | events``: see queues and jobs, through the public read API only."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import click

from ..api import QueueAPI
from ..types import JobState
from .common import emit, json_option, parse_tag, run_async, with_api

STATES = [s.value for s in JobState]


def _time(ms: int | None) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


@click.command()
@click.argument("queue", required=False)
@click.option("--tag", help="Count only jobs with this key=value tag.")
@click.option("--function", help="Count only jobs of this function.")
@json_option
def stats(queue: str | None, tag: str | None, function: str | None, as_json: bool) -> None:
    """Jobs per state of QUEUE (of every queue when none is named), and whether it is paused."""

    async def action(api: QueueAPI) -> list[dict[str, Any]]:
        return [s.to_dict() for s in await api.stats(queue, parse_tag(tag), function=function)]

    emit(run_async(with_api(action)), as_json, _stats_table)


def _stats_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no queues yet"
    header = ["queue", *STATES, "paused"]
    lines = [header]
    lines += [[r["queue"], *(str(r["counts"][s]) for s in STATES), "yes" if r["paused"] else ""] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)


@click.command()
@click.argument("queue")
@click.option("--state", "-s", type=click.Choice(STATES), required=True)
@click.option("--function", help="Only jobs of this function.")
@click.option("--tag", help="Only jobs with this key=value tag.")
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50)
@json_option
def jobs(queue: str, state: str, function: str | None, tag: str | None, offset: int, limit: int, as_json: bool) -> None:
    """Jobs of QUEUE in one state, newest first."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        page = await api.jobs(queue, state, offset=offset, limit=limit, function=function, tag=parse_tag(tag))
        return page.to_dict()

    emit(run_async(with_api(action)), as_json, _jobs_text)


def _jobs_text(page: dict[str, Any]) -> str:
    total = page["total"] if page["total"] is not None else "?"
    head = f"{page['queue']} {page['state']}: {total} job(s), showing {len(page['jobs'])} from {page['offset']}"
    lines = [head]
    for job in page["jobs"]:
        when = job["finished_at_ms"] or job["started_at_ms"] or job["due_at_ms"] or job["enqueued_at_ms"]
        extra = job["error"] or (f"{job['progress']:g}% {job['progress_message']}" if job["progress"] else "")
        lines.append(f"{job['job_id']}\t{job['function']}\t{_time(when)}\ttries={job['tries']}\t{extra}".rstrip())
    return "\n".join(lines)


@click.command()
@click.argument("job_id")
@json_option
def job(job_id: str, as_json: bool) -> None:
    """Everything known about one job: state, tries, times, progress, logs, result or error."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return (await api.job(job_id)).to_dict()

    emit(run_async(with_api(action)), as_json, _job_text)


def _job_text(data: dict[str, Any]) -> str:
    times = ("enqueued_at_ms", "started_at_ms", "finished_at_ms", "due_at_ms")
    lines = []
    for key, value in data.items():
        if key in ("logs", "failure"):
            continue
        shown = _time(value) if key in times else json.dumps(value, default=str, ensure_ascii=False)
        lines.append(f"{key.removesuffix('_ms')}: {shown}")
    if data["failure"]:
        lines.append(f"failure: {data['failure']['reason']}\n{data['failure']['traceback']}")
    if data["logs"]:
        lines.append("logs:")
        lines += [f"  {_time(line['at_ms'])}  {line['message']}" for line in data["logs"]]
    return "\n".join(lines)


@click.command()
@click.option("--last", "-n", type=click.IntRange(min=0), default=20, help="Replay this many recent events first.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they happen.")
@json_option
def events(last: int, follow: bool, as_json: bool) -> None:
    """Recent job and queue events (completed, failed, retrying, progress, paused, ...); --follow streams them."""

    async def action(api: QueueAPI) -> None:
        async for event in api.events(last=last, follow=follow):
            data = event.to_dict()
            if as_json:
                click.echo(json.dumps(data, ensure_ascii=False))
            else:
                fields = " ".join(f"{k}={v}" for k, v in event.data.items())
                tags = " ".join(f"{k}={v}" for k, v in event.tags.items())
                click.echo(
                    f"{_time(event.at_ms)}  {event.event:<10} {event.queue} {event.function} {event.job_id} "
                    f"{tags} {fields}".rstrip()
                )

    try:
        run_async(with_api(action))
    except KeyboardInterrupt:  # --follow ends with Ctrl-C
        pass
    except asyncio.CancelledError:
        pass
