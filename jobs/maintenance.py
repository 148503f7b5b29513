"""Framework housekeeping run as ordinary jobs (and, with the scheduling work, as crons)."""

from __future__ import annotations

from queue_system import JobContext, current_client, job

from .queues import CLEANUP


@job(queue=CLEANUP, priority="background", max_tries=3, timeout=600)
async def prune_failed_jobs(ctx: JobContext, older_than_hours: float = 24 * 30) -> int:
    """Forget failed-store entries older than ``older_than_hours`` (Laravel ``queue:prune-failed``)."""
    client = await current_client()
    return await client.failed.prune(older_than_hours * 3600)
