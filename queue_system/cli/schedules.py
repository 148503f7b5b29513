"""``queue-system schedules | deferred | reschedule | cancel``: schedules and deferred jobs, through the read API.

    queue-system schedules                                   # every schedule with its next runs
    queue-system schedules add sync templates-sync --cron "*/30 * * * *" --misfire run_once
    queue-system schedules add poll poll-shop --every 60s --arg '"shop-1"'
    queue-system schedules add-condition backlog send-email --queue scraping --metric waiting --threshold 50 \\
        --cooldown 10m --kwarg to='"ops@example.com"' --kwarg template='"queue-alert-rule"' --reading-kwarg data
    queue-system schedules remove backlog
    queue-system deferred whatsapp-blast --tag campaign=7    # upcoming deferred jobs, soonest first
    queue-system reschedule JOB_ID --in 2h                   # or --at 2026-12-01T09:00:00+07:00
    queue-system cancel JOB_ID
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ..api import QueueAPI
from ..conditions import default_presence
from ..schedule_types import Condition, Metric, Misfire, Schedule, Timed
from .common import emit, guarded, json_option, parse_duration, parse_json_value, parse_tag, run_async, with_api

MISFIRES = [m.value for m in Misfire]
METRICS = [m.value for m in Metric]


def _time(ms: int | None) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _kwargs(values: tuple[str, ...]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not name=JSON", param_hint="--kwarg")
        kwargs[key] = parse_json_value(raw)
    return kwargs


@click.group(invoke_without_command=True)
@click.option("--next", "next_count", type=click.IntRange(min=1, max=100), default=3, help="Next runs to show.")
@json_option
@click.pass_context
def schedules(ctx: click.Context, next_count: int, as_json: bool) -> None:
    """Every schedule (declared crons and run-time ones) with its next runs; subcommands change them."""
    if ctx.invoked_subcommand is not None:
        return

    async def action(api: QueueAPI) -> list[dict[str, Any]]:
        rows = []
        for state in await api.schedules():
            row = state.to_dict(next_count)
            if isinstance(state.schedule, Condition) and state.schedule.metric is Metric.WORKERS:
                row["unavailable"] = default_presence(api.redis, api.keys).unavailable_reason()
            rows.append(row)
        return rows

    emit(run_async(with_api(action)), as_json, _schedules_text)


def _schedules_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no schedules"
    lines = []
    for row in rows:
        runs = ", ".join(_time(ms) for ms in row["next_runs_ms"]) or "-"
        note = f"  (not yet available: {row['unavailable']})" if row.get("unavailable") else ""
        lines.append(f"{row['name']}\t{row['function']}\t{row['when']}\tnext: {runs}\tfired={row['fired']}{note}")
    return "\n".join(lines)


def _put(schedule: Schedule, keep: bool, as_json: bool) -> None:
    async def action(api: QueueAPI) -> dict[str, Any]:
        written = await api.put_schedule(schedule, replace=not keep)
        return {**(await api.schedule(schedule.name)).to_dict(), "written": written}

    result = run_async(with_api(action))
    emit(result, as_json, lambda d: f"{d['name']}: {'saved' if d['written'] else 'unchanged'}, {d['when']}")


@schedules.command("add")
@click.argument("name")
@click.argument("function")
@click.option("--cron", "expression", help='Cron expression: 5 fields, or 6 with seconds first ("*/10 * * * * *").')
@click.option("--every", "every_raw", help="Interval: 90, 90s, 15m, 2h.")
@click.option("--tz", default="UTC", show_default=True, help="Time zone of the cron expression.")
@click.option("--arg", "args", multiple=True, help="Positional argument (JSON, else a string); repeatable.")
@click.option("--kwarg", "kwargs", multiple=True, help="Keyword argument name=JSON; repeatable.")
@click.option("--queue", help="Queue for the job (default: the function's).")
@click.option("--misfire", type=click.Choice(MISFIRES), default="skip", show_default=True)
@click.option("--catch-up-limit", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--keep", is_flag=True, help="Leave an existing schedule of that name unchanged.")
@json_option
@guarded
def add(
    name: str, function: str, expression: str | None, every_raw: str | None, tz: str, args: tuple[str, ...],
    kwargs: tuple[str, ...], queue: str | None, misfire: str, catch_up_limit: int, keep: bool, as_json: bool,
) -> None:  # fmt: skip
    """Add (or change) a cron or interval schedule NAME that enqueues FUNCTION."""
    if (expression is None) == (every_raw is None):
        raise click.UsageError("give either --cron or --every")
    every_s = parse_duration(every_raw) if every_raw is not None else None
    schedule = Timed(
        name, function, cron=expression, every_s=every_s, tz=tz, args=[parse_json_value(a) for a in args],
        kwargs=_kwargs(kwargs), queue=queue, misfire=Misfire(misfire), catch_up_limit=catch_up_limit,
    )  # fmt: skip
    _put(schedule, keep, as_json)


@schedules.command("add-condition")
@click.argument("name")
@click.argument("function")
@click.option("--queue", required=True, help="The queue to watch.")
@click.option("--metric", type=click.Choice(METRICS), required=True)
@click.option("--threshold", type=float, required=True, help="Fires above it (workers: below it).")
@click.option("--window", "window_raw", default="5m", show_default=True, help="Window of the failed metric.")
@click.option("--cooldown", "cooldown_raw", default="10m", show_default=True, help="Least time between firings.")
@click.option("--arg", "args", multiple=True, help="Positional argument (JSON, else a string); repeatable.")
@click.option("--kwarg", "kwargs", multiple=True, help="Keyword argument name=JSON; repeatable.")
@click.option("--target-queue", help="Queue for the job (default: the function's).")
@click.option("--reading-kwarg", help="Hand the reading (metric, value, threshold...) to the job in this argument.")
@click.option("--keep", is_flag=True, help="Leave an existing schedule of that name unchanged.")
@json_option
@guarded
def add_condition(
    name: str, function: str, queue: str, metric: str, threshold: float, window_raw: str, cooldown_raw: str,
    args: tuple[str, ...], kwargs: tuple[str, ...], target_queue: str | None, reading_kwarg: str | None, keep: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Add (or change) a condition schedule NAME: enqueue FUNCTION when QUEUE's metric crosses the threshold."""
    schedule = Condition(
        name, function, queue=queue, metric=Metric(metric), threshold=threshold,
        window_s=parse_duration(window_raw), cooldown_s=parse_duration(cooldown_raw),
        args=[parse_json_value(a) for a in args], kwargs=_kwargs(kwargs), target_queue=target_queue,
        reading_kwarg=reading_kwarg,
    )  # fmt: skip
    _put(schedule, keep, as_json)


@schedules.command("remove")
@click.argument("name")
@json_option
def remove(name: str, as_json: bool) -> None:
    """Remove schedule NAME (a cron declared in code comes back when a worker declaring it starts)."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return {"name": name, "removed": await api.remove_schedule(name)}

    result = run_async(with_api(action))
    emit(result, as_json, lambda d: f"{name}: {'removed' if d['removed'] else 'no such schedule'}")
    if not result["removed"]:
        raise SystemExit(3)


@click.command()
@click.argument("queue")
@click.option("--tag", help="Only jobs with this key=value tag.")
@click.option("--function", help="Only jobs of this function.")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50)
@json_option
def deferred(queue: str, tag: str | None, function: str | None, limit: int, as_json: bool) -> None:
    """Upcoming deferred jobs of QUEUE, the soonest due first."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        page = await api.deferred(queue, tag=parse_tag(tag), function=function, limit=limit)
        return page.to_dict()

    def text(page: dict[str, Any]) -> str:
        lines = [f"{page['queue']}: {page['total'] if page['total'] is not None else '?'} deferred job(s)"]
        lines += [f"{j['job_id']}\t{j['function']}\tdue {_time(j['due_at_ms'])}" for j in page["jobs"]]
        return "\n".join(lines)

    emit(run_async(with_api(action)), as_json, text)


@click.command()
@click.argument("job_id")
@click.option("--in", "in_raw", help="New time from now: 90s, 15m, 2h, 7d.")
@click.option("--at", "at_raw", help="New time, ISO 8601 with a UTC offset (2026-12-01T09:00:00+07:00).")
@json_option
def reschedule(job_id: str, in_raw: str | None, at_raw: str | None, as_json: bool) -> None:
    """Move JOB_ID (not started yet) to a new time; its old time never runs. Exit 1 if it already started."""
    if (in_raw is None) == (at_raw is None):
        raise click.UsageError("give either --in or --at")
    at = None
    if at_raw is not None:
        try:
            at = dt.datetime.fromisoformat(at_raw)
        except ValueError:
            raise click.BadParameter(f"{at_raw!r} is not an ISO 8601 time", param_hint="--at") from None
    defer_by = parse_duration(in_raw) if in_raw is not None else None

    async def action(api: QueueAPI) -> dict[str, Any]:
        return (await api.reschedule(job_id, defer_by=defer_by, defer_until=at)).to_dict()

    emit(run_async(with_api(action)), as_json, lambda d: f"{job_id} now due {_time(d['due_at_ms'])}")


@click.command()
@click.argument("job_id")
@json_option
def cancel(job_id: str, as_json: bool) -> None:
    """Cancel JOB_ID before it starts. Exit 1 if it already started (use abort), 3 if unknown."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        return (await api.cancel(job_id)).to_dict()

    emit(run_async(with_api(action)), as_json, lambda d: f"{job_id} cancelled (was {d['previous_state']})")
