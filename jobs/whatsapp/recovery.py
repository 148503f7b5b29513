"""Start-up recovery of blasts (issue 8 point 3): what was due while no worker ran is sent once, and what was
being sent when a worker died is resumed, even if Redis lost every key in the outage.

The database is the truth (``blasts.due_blast_jobs``): SCHEDULED blasts whose time passed, and PROCESSING ones.
Each gets ``send_whatsapp_blast`` enqueued under the very job id the scheduler uses for its version, so:

* a job still in Redis (deferred, waiting, or running / about to be re-run after its lease) makes the enqueue a
  duplicate: nothing more is queued;
* after Redis lost its data the id is free and the blast is queued once;
* three workers starting together run the hook once (the framework's ``RecoveryHook``: ``SET NX`` per fleet
  start), and even two runs would enqueue the same ids.

A PROCESSING blast whose job ended for good without settling it (its record still in Redis as completed or
failed) is resumed under ``<id>:resume-<end ms>``, fixed by that record, so it too is queued once. The resumed
run sends only the deliveries still pending; one found "sending" (a message maybe taken when its worker died)
becomes "unknown" and is not resent (sender.py): at most once per recipient.
"""

from __future__ import annotations

import structlog

from queue_system import JobContext, JobNotFound, JobState, QueueAPI, RecoveryHook, current_client

from ..config import AppSettings
from .blasts import DueBlast, blast_job_id, due_blast_jobs
from .jobs import send_whatsapp_blast
from .runtime import runtime_from

RECOVERY_NAME = "whatsapp-missed-blasts"
ENDED = {JobState.COMPLETED, JobState.FAILED, JobState.ABORTED}
log = structlog.stdlib.get_logger(__name__)


async def recover_blasts(ctx: JobContext) -> int:
    """Enqueue every due or interrupted blast's job once; returns how many jobs were queued."""
    runtime = await runtime_from(ctx)
    client = await current_client()
    api = QueueAPI(client)
    queued = 0
    for due in await due_blast_jobs(runtime.db):
        job_id = await _job_id(api, due)
        options = send_whatsapp_blast.options(client=client, job_id=job_id, tags={"blast_id": str(due.blast_id)})
        job = await options.enqueue(due.blast_id, due.version)
        new = not job.duplicate
        log.info("whatsapp.blast_recovered", blast_id=due.blast_id, status=due.status, job=job_id, new=new)
        queued += not job.duplicate
    return queued


async def _job_id(api: QueueAPI, due: DueBlast) -> str:
    """The scheduler's id, unless that job ended while the blast is still PROCESSING: then a resume id."""
    job_id = blast_job_id(due.uid, due.version)
    try:
        info = await api.job(job_id)
    except JobNotFound:
        return job_id
    if info.state not in ENDED:
        return job_id
    ended = info.finished_at_ms or 0
    return f"{job_id}:resume-{ended}"


def blast_recovery(settings: AppSettings) -> RecoveryHook:
    return RecoveryHook(RECOVERY_NAME, recover_blasts, window_s=settings.whatsapp_recovery_window_s)
