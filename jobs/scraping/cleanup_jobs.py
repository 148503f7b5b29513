"""The clean-up jobs (queue ``cleanup``, background priority): old rows and temporary files.

Both take ``dry_run`` and then report what they would delete. Neither retries much: a clean-up that failed
twice needs a person, and the next scheduled run (nightly, once crons exist) covers what it missed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from queue_system import Fixed, JobContext, JobFunction, job

from ..queues import CLEANUP
from .cleanup import cleanup_old_rows
from .cleanup import cleanup_temp_files as remove_temp_files
from .runtime import runtime_from


@job(name="cleanup-old-data", queue=CLEANUP, priority="background", max_tries=2, backoff=Fixed(60), timeout=1800)
async def cleanup_old_data(
    ctx: JobContext, tables: list[str], older_than_days: float = 30, dry_run: bool = False
) -> dict[str, Any]:
    """Delete (or with ``dry_run`` count) rows older than ``older_than_days`` in the named tables."""
    runtime = await runtime_from(ctx)
    counts = await cleanup_old_rows(runtime.db, tables, older_than_days, dry_run=dry_run)
    return {"dry_run": dry_run, "older_than_days": older_than_days, "rows": counts}


@job(name="cleanup-temp-files", queue=CLEANUP, priority="background", max_tries=2, backoff=Fixed(60), timeout=1800)
async def cleanup_temp_files(
    ctx: JobContext,
    directories: list[str],
    older_than_days: float = 1,
    extensions: list[str] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Delete old files under ``directories``, which must lie inside the configured temp roots."""
    runtime = await runtime_from(ctx)
    roots = runtime.settings.resolved_temp_roots(runtime.app)
    report = await asyncio.to_thread(
        remove_temp_files,
        directories,
        roots,
        older_than_days=older_than_days,
        extensions=extensions or [],
        dry_run=dry_run,
    )
    return report.as_dict()


CLEANUP_JOBS: list[JobFunction[Any, Any]] = [cleanup_old_data, cleanup_temp_files]
