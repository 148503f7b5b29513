"""The WhatsApp jobs (seed 004) and the queue side of scheduling a blast.

``send_whatsapp_blast(blast_id, version)`` is deferred to the blast's send time by ``QueueBlastScheduler`` (the
``BlastScheduler`` of ``blasts.py`` over the framework's deferred jobs: a deterministic job id per (blast,
version), ``QueueAPI.reschedule`` to move it and ``QueueAPI.cancel`` to take it off). The version makes a job
that escaped harmless. A Cloud API pause longer than the sender waits in-line (429 / 130429 with a long
Retry-After) ends the run with ``SlowDown``: the job comes back after Retry-After without using a try.
``sync_whatsapp_templates`` runs from a 30-minute cron (``whatsapp_crons``); the start-up recovery of missed and
interrupted blasts is in recovery.py.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from queue_system import (
    Client,
    Exponential,
    JobAlreadyStarted,
    JobContext,
    JobFunction,
    JobNotFound,
    PermanentFailure,
    QueueAPI,
    SlowDown,
    Timed,
    cron,
    job,
)

from ..config import AppSettings
from ..queues import TEMPLATE_SYNC, WHATSAPP_BLAST
from .blasts import blast_job_id, fail_blast
from .errors import BlastThrottled
from .runtime import runtime_from
from .templates import sync_templates

BLAST_TRIES = 5


@job(queue=WHATSAPP_BLAST, max_tries=BLAST_TRIES, backoff=Exponential(5), timeout=3600)
async def send_whatsapp_blast(ctx: JobContext, blast_id: int, version: int) -> dict[str, Any]:
    """Send the blast's pending messages, if ``version`` is still its schedule (idempotent, at most once each)."""
    runtime = await runtime_from(ctx)
    last_try = int(ctx.get("job_try", 1)) >= BLAST_TRIES
    try:
        outcome = await runtime.sender.run(blast_id, version)
    except BlastThrottled as exc:  # throttling is not a failure: no try used, whatever the try number
        raise SlowDown(retry_after=exc.retry_after_s, reason=str(exc)) from exc
    except Exception as exc:
        if last_try or isinstance(exc, PermanentFailure):
            await fail_blast(runtime.db, blast_id, f"{type(exc).__name__}: {exc}")
        raise
    return outcome.as_dict()


@job(queue=TEMPLATE_SYNC, max_tries=3, backoff=Exponential(10), timeout=300)
async def sync_whatsapp_templates(ctx: JobContext) -> dict[str, Any]:
    """SUBMITTED templates → APPROVED / REJECTED, as the Cloud API reports them."""
    runtime = await runtime_from(ctx)
    return (await sync_templates(runtime.db, runtime.api)).as_dict()


WHATSAPP_JOBS: list[JobFunction[Any, Any]] = [send_whatsapp_blast, sync_whatsapp_templates]
TEMPLATE_SYNC_CRON = "*/30 * * * *"


def whatsapp_crons(settings: AppSettings) -> list[Timed]:
    """Template sync every 30 minutes, fired once per tick across every worker (the framework's scheduler); a
    tick missed while no worker ran is made up once at start-up. None without a token: every run would fail."""
    if not settings.whatsapp_token:
        return []
    return [cron(sync_whatsapp_templates, TEMPLATE_SYNC_CRON, misfire="run_once")]


class QueueBlastScheduler:
    """``BlastScheduler`` over the queue: one deferred job per (blast, version), moved by ``QueueAPI.reschedule``,
    removed by ``QueueAPI.cancel``."""

    def __init__(self, client: Client, api: QueueAPI) -> None:
        self.client = client
        self.api = api

    async def schedule(self, blast_id: int, blast_uid: str, version: int, send_at: datetime) -> str:
        options = send_whatsapp_blast.options(
            client=self.client,
            job_id=blast_job_id(blast_uid, version),
            defer_until=send_at,
            tags={"blast_id": str(blast_id)},
        )
        return (await options.enqueue(blast_id, version)).job_id

    async def move(self, job_id: str, send_at: datetime) -> bool:
        try:
            await self.api.reschedule(job_id, defer_until=send_at)
        except (JobAlreadyStarted, JobNotFound):
            return False
        return True

    async def unschedule(self, job_id: str) -> None:
        # it started (its run finds the blast cancelled or at a newer version) or is gone already
        with contextlib.suppress(JobAlreadyStarted, JobNotFound):
            await self.api.cancel(job_id)
