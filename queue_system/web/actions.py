"""The actions the HTTP API and the dashboard's forms share, each over the public read API (QueueAPI)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from ..api import QueueAPI
from ..errors import JobNotFound, JobStateConflict
from ..views import JobAction


class JobVerb(StrEnum):
    RETRY = "retry"  # a failed job runs again with fresh tries
    REMOVE = "remove"  # a job that is not running is deleted
    PROMOTE = "promote"  # a delayed or retrying job runs now
    ABORT = "abort"  # a queued job is removed; a running one is cancelled


async def act_on_job(api: QueueAPI, verb: JobVerb, job_id: str) -> JobAction:
    if verb is JobVerb.RETRY:
        return await api.retry(job_id)
    if verb is JobVerb.REMOVE:
        return await api.remove(job_id)
    if verb is JobVerb.PROMOTE:
        return await api.promote(job_id)
    result = await api.abort(job_id)
    if result.outcome == "not_found":
        raise JobNotFound(f"no job with id {job_id!r}")
    previous = result.previous_state.value if result.previous_state else None
    return JobAction(job_id, result.outcome.value, previous)


@dataclass(frozen=True)
class BulkResult:
    action: str
    done: int
    skipped: list[dict[str, str]]  # the jobs the action did not apply to, with the reason

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def act_on_jobs(api: QueueAPI, verb: JobVerb, job_ids: list[str]) -> BulkResult:
    """One action on several jobs; those it does not apply to are listed, not fatal."""
    done, skipped = 0, []
    for job_id in job_ids:
        try:
            await act_on_job(api, verb, job_id)
        except (JobNotFound, JobStateConflict) as exc:
            skipped.append({"job_id": job_id, "reason": str(exc)})
            continue
        done += 1
    return BulkResult(verb.value, done, skipped)
