"""Framework housekeeping run as ordinary jobs (and, with the scheduling work, as crons)."""

from __future__ import annotations

from queue_system import JobContext, QueueAPI, current_client, job

from .queues import CLEANUP


@job(queue=CLEANUP, priority="background", max_tries=3, timeout=600)
async def prune_failed_jobs(
    ctx: JobContext, older_than_hours: float = 24 * 30, batches_older_than_hours: float = 24 * 7
) -> dict[str, int]:
    """The framework's nightly clean-up: forget failed-store entries older than ``older_than_hours`` (Laravel
    ``queue:prune-failed``) and batches that finished more than ``batches_older_than_hours`` ago
    (``queue:prune-batches``). Old results need nothing here: each queue's retention (queue_system/retention.py)
    removes finished records together with their results as they pass their age or count."""
    client = await current_client()
    failed = await client.failed.prune(older_than_hours * 3600)
    batches = await QueueAPI(client).prune_batches(batches_older_than_hours * 3600)
    return {"failed": failed, "batches": batches}
