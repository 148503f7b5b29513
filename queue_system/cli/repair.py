"""``queue-system reindex``: rebuild the job indexes and counters from the job records (queue_system/reindex.py)."""

from __future__ import annotations

from typing import Any

import click

from ..client import Client
from ..reindex import ReindexReport, reindex
from .common import emit, json_option, run_async, with_client


@click.command(name="reindex")
@click.option("--queue", "-q", "queues", multiple=True, help="Repair only these queues (default: all).")
@click.option("--dry-run", is_flag=True, help="Report the differences, write nothing.")
@json_option
def reindex_command(queues: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Rebuild every job index and counter from the job records (after an upgrade, a manual DEL, a partial restore).

    Stop or pause the workers first: a job that moves meanwhile may be counted in its old state until the next run.
    Outcome totals (total_completed ...) are kept. Running it again on a quiet Redis changes nothing."""

    async def action(client: Client) -> ReindexReport:
        return await reindex(client.redis, client.keys, queues, dry_run=dry_run)

    emit(run_async(with_client(action)).to_dict(), as_json, _report_text)


def _report_text(report: dict[str, Any]) -> str:
    verb = "would change" if report["dry_run"] else "changed"
    lines = [
        f"{name}: {q['records']} records seen; {verb} {q['counters_corrected']} counters, "
        f"+{q['index_added']} / -{q['index_removed']} index entries, {q['index_rescored']} rescored"
        + ("; missing from the queue list" if q["registered"] else "")
        for name, q in report["queues"].items()
    ]
    lines.append(f"{report['changes']} change(s){' found (dry run: nothing written)' if report['dry_run'] else ''}")
    if report["schema_set"]:
        lines.append("bookkeeping version marker set")
    return "\n".join(lines)
