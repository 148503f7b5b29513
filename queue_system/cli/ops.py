"""``queue-system supervise | restart | workers | health``: running workers in production."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from typing import Any

import click

from ..api import QueueAPI
from ..config import QueueConfig
from ..heartbeat import workers_by_queue
from ..logging_setup import configure_logging
from ..restart import request_restart
from .common import CommandError, emit, guarded, json_option, run_async, with_api


@click.command()
@click.argument("settings")
@click.option("--metrics-port", type=click.IntRange(min=0, max=65535), help="Serve the system's /metrics here.")
@click.option("--metrics-host", default="0.0.0.0", show_default=True, help="Address the metrics server binds.")
@guarded
def supervise(settings: str, metrics_port: int | None, metrics_host: str) -> None:
    """Run and autoscale worker processes per queue group from SETTINGS (a .toml/.json file, or
    module.attribute holding a SupervisorConfig or a dict)."""
    from ..supervisor import Supervisor, load_supervisor_config  # prometheus_client: only this command pays

    supervisor_settings = load_supervisor_config(settings)
    config = QueueConfig.from_env()
    configure_logging(fmt=config.effective_log_format, level=config.log_level)
    supervisor = Supervisor(supervisor_settings, config)
    if metrics_port is not None:
        supervisor.serve_metrics(metrics_port, metrics_host)
    run_async(supervisor.run())


@click.command()
def restart() -> None:
    """Make every worker on every host finish its running jobs and exit (its supervisor starts a fresh one)."""

    async def action(api: QueueAPI) -> str:
        return await request_restart(api.redis, api.keys)

    value = run_async(with_api(action))
    click.echo(f"restart requested ({value}): workers exit after their running jobs")


@click.command()
@json_option
def workers(as_json: bool) -> None:
    """Live workers (by heartbeat): host, pid, queues, concurrency, jobs done/failed, running jobs, memory."""

    async def action(api: QueueAPI) -> list[dict[str, Any]]:
        return [w.to_dict() for w in await api.workers()]

    emit(run_async(with_api(action)), as_json, _workers_table)


def _workers_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no live workers"
    header = ["host", "pid", "queues", "conc", "done", "failed", "running", "rss MB", "started", "state"]
    lines = [header]
    for r in rows:
        started = dt.datetime.fromtimestamp(r["started_at_ms"] / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            [r["host"], str(r["pid"]), ",".join(r["queues"]), str(r["concurrency"]), str(r["jobs_done"]),
             str(r["jobs_failed"]), str(len(r["current_jobs"])), f"{r['rss_bytes'] / 2**20:.0f}", started, r["state"]]
        )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in lines)


@click.command()
@click.option("--queue", "-q", "queues", multiple=True, help="Check these queues (default: every known queue).")
@click.option("--this-host", is_flag=True, help="Require a live worker on this host (alone: only that).")
@json_option
def health(queues: tuple[str, ...], this_host: bool, as_json: bool) -> None:
    """Exit 0 when every queue (or each --queue) has a live worker, 1 when one has none, 4 when Redis is unreachable.

    With --this-host alone: exit 0 when this host (a container) runs a live worker."""

    async def action(api: QueueAPI) -> dict[str, Any]:
        live, names = await asyncio.gather(api.workers(), api.queues())
        served = workers_by_queue(live)
        checked = list(queues) or ([] if this_host else names)  # a container checks its own worker only
        host = socket.gethostname()
        return {
            "queues": {q: served.get(q, 0) for q in checked},
            "workers": len(live),
            "this_host": sum(1 for w in live if w.host == host) if this_host else None,
        }

    report = run_async(with_api(action))
    unserved = [q for q, n in report["queues"].items() if n == 0]
    emit(report, as_json, lambda r: "\n".join(f"{q}: {n} live worker(s)" for q, n in r["queues"].items()) or "ok")
    if unserved:
        raise CommandError(f"no live worker for queue(s): {', '.join(unserved)}")
    if this_host and not report["this_host"]:
        raise CommandError(f"no live worker on this host ({socket.gethostname()})")
