"""Batches in the JSON API: the list with progress, one batch, its jobs by outcome, and the admin's cancel, retry
of the failed jobs and pruning of old finished batches (all through QueueAPI, so the counting stays in Redis)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ..api import QueueAPI
from ..batch_store import BatchInfo, BatchStatus
from ..errors import JobStateConflict
from .auth import Principal
from .security import admin, context, viewer

Viewer = Annotated[Principal, Depends(viewer)]
Admin = Annotated[Principal, Depends(admin)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]

router = APIRouter(tags=["batches"])


class Outcome(StrEnum):
    """Where one job of a batch stands."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PruneBody(BaseModel):
    older_than_s: float = Field(ge=0, le=10 * 365 * 86_400, description="finished at least this long ago")


@router.get("/batches", summary="Batches, newest first, with status and progress")
async def batches(request: Request, _p: Viewer, offset: Offset = 0, limit: Limit = 50) -> dict[str, Any]:
    page = await (await context(request).api()).batches(offset=offset, limit=limit)
    return {"total": page.total, "offset": offset, "limit": limit, "batches": [b.to_dict() for b in page.batches]}


@router.get("/batches/{batch_id}", summary="One batch: status, progress, callbacks, tags")
async def batch(request: Request, batch_id: str, _p: Viewer) -> dict[str, Any]:
    return (await (await context(request).api()).batch(batch_id)).to_dict()


@router.get("/batches/{batch_id}/jobs", summary="A batch's job ids by outcome (pending/completed/failed/cancelled)")
async def batch_jobs(
    request: Request,
    batch_id: str,
    _p: Viewer,
    outcome: Outcome | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> dict[str, Any]:
    jobs = await (await context(request).api()).batch_jobs(batch_id, outcome.value if outcome else None)
    ids = sorted(jobs)[offset : offset + limit]
    return {
        "batch_id": batch_id,
        "outcome": outcome.value if outcome else None,
        "total": len(jobs),
        "jobs": [{"job_id": job_id, "outcome": jobs[job_id]} for job_id in ids],
    }


@router.post("/batches/{batch_id}/cancel", summary="Cancel a running batch: queued jobs removed, running ones finish")
async def cancel(request: Request, batch_id: str, _p: Admin) -> dict[str, Any]:
    removed = await cancel_running(await context(request).api(), batch_id)
    return {"batch_id": batch_id, "removed": removed, "status": BatchStatus.CANCELLED.value}


@router.post("/batches/{batch_id}/retry", summary="Retry a batch's failed jobs (a finished batch re-opens)")
async def retry(request: Request, batch_id: str, _p: Admin) -> dict[str, Any]:
    return {"batch_id": batch_id, "retried": await (await context(request).api()).retry_batch(batch_id)}


@router.post("/batches/prune", summary="Delete batches that finished more than older_than_s seconds ago")
async def prune(request: Request, body: PruneBody, _p: Admin) -> dict[str, Any]:
    return {"pruned": await (await context(request).api()).prune_batches(body.older_than_s)}


async def cancel_running(api: QueueAPI, batch_id: str) -> int:
    """Cancelling a finished or cancelled batch is a conflict (409) rather than a silent 0, so a caller learns
    that nothing happened and why; BatchNotFound (404) for an unknown id."""
    info = await api.batch(batch_id)
    _refuse_finished(info)
    return await api.cancel_batch(batch_id)


def _refuse_finished(info: BatchInfo) -> None:
    if info.status is not BatchStatus.RUNNING:
        raise JobStateConflict(f"batch {info.batch_id} is {info.status.value}: only a running batch can be cancelled")
