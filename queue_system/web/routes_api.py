"""The JSON HTTP API (published as OpenAPI): queue stats, job lists and search, job detail and actions, bulk
actions, pause/resume/clean, the failed store, throughput and recent events. Reads need any role, changes need
an admin (see security.py). Batches, schedules, deferred jobs, workers and limits have routers of their own
(api_batches.py, api_schedules.py, api_workers.py), joined under ``/api/v1`` by ``create_dashboard``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ..errors import UnknownState
from ..failed import FailedFilter
from ..types import JobState
from .actions import JobVerb, act_on_job, act_on_jobs
from .auth import Principal
from .security import admin, context, viewer

Viewer = Annotated[Principal, Depends(viewer)]
Admin = Annotated[Principal, Depends(admin)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
TagQuery = Annotated[str | None, Query(description="key=value", max_length=500)]
FunctionQuery = Annotated[str | None, Query(max_length=200)]

router = APIRouter(prefix="/api/v1")


class CleanBody(BaseModel):
    state: JobState
    older_than_s: float = Field(default=0.0, ge=0, le=100 * 365 * 86_400)
    limit: int | None = Field(default=None, ge=1)


class RemoveWhereBody(BaseModel):
    state: JobState
    function: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=500, description="key=value")
    limit: int = Field(default=10_000, ge=1, le=100_000)


class BulkBody(BaseModel):
    action: JobVerb
    ids: list[str] = Field(min_length=1, max_length=1000)


class FailedFilterBody(BaseModel):
    queue: str | None = Field(default=None, max_length=100)
    function: str | None = Field(default=None, max_length=200)
    tags: dict[str, str] = Field(default_factory=dict)

    def to_filter(self) -> FailedFilter:
        return FailedFilter(queue=self.queue, function=self.function, tags=self.tags)


@router.get("/me", summary="Who is calling, and their role")
async def me(principal: Viewer) -> dict[str, Any]:
    return {"name": principal.name, "role": principal.role.value, "via": principal.via}


@router.get("/queues", summary="Counts per state of every queue (or of their jobs with one tag)")
async def queues(request: Request, _p: Viewer, tag: TagQuery = None) -> list[dict[str, Any]]:
    api = await context(request).api()
    return [s.to_dict() for s in await api.stats(tag=tag)]


@router.get("/queues/{queue}", summary="Counts per state of one queue (or of its jobs with one tag or function)")
async def queue_stats(
    request: Request, queue: str, _p: Viewer, tag: TagQuery = None, function: FunctionQuery = None
) -> dict[str, Any]:
    api = await context(request).api()
    return (await api.stats(queue, tag=tag, function=function))[0].to_dict()


@router.get(
    "/queues/{queue}/jobs",
    summary="A page of a queue's jobs in one state, filtered or searched",
    description="Without `q`, `offset` pages the state's listing -- all of it, or the jobs of one `function` "
    "and/or `tag` -- read from indexes, and `total` is its exact count. With `q` (text in the payload), the search "
    "reads a bounded number of jobs (of the filtered index when `function` or `tag` is given) from the position "
    "`offset` and answers `scanned` (jobs read), `search_space` (the filtered index's size) and `next_cursor`: pass "
    "it as `offset` to continue (null: nothing further).",
)
async def queue_jobs(
    request: Request,
    queue: str,
    _p: Viewer,
    state: JobState = JobState.WAITING,
    offset: Offset = 0,
    limit: Limit = 50,
    function: FunctionQuery = None,
    tag: TagQuery = None,
    q: Annotated[str | None, Query(description="text in the payload", max_length=200)] = None,
) -> dict[str, Any]:
    ctx = context(request)
    api = await ctx.api()
    if q:  # a bounded scan from a cursor: `offset` is where the previous page stopped
        page = await api.search(queue, state, q, function=function, tag=tag, cursor=offset, limit=limit)
    else:
        page = await api.jobs(queue, state, offset=offset, limit=limit, function=function, tag=tag)
    data = page.to_dict()
    data["jobs"] = [ctx.redactor.job(job) for job in data["jobs"]]
    return data


@router.post("/queues/{queue}/pause", summary="Pause a queue (running jobs finish)")
async def pause(request: Request, queue: str, _p: Admin) -> dict[str, Any]:
    changed = await (await context(request).api()).pause(queue)
    return {"queue": queue, "paused": True, "changed": changed}


@router.post("/queues/{queue}/resume", summary="Resume a paused queue")
async def resume(request: Request, queue: str, _p: Admin) -> dict[str, Any]:
    changed = await (await context(request).api()).resume(queue)
    return {"queue": queue, "paused": False, "changed": changed}


@router.post("/queues/{queue}/clean", summary="Remove a queue's jobs in one state, finished before a time")
async def clean(request: Request, queue: str, body: CleanBody, _p: Admin) -> dict[str, Any]:
    api = await context(request).api()
    removed = await api.clean(queue, body.state, older_than_s=body.older_than_s, limit=body.limit)
    return {"queue": queue, "state": body.state.value, "removed": removed}


@router.post("/queues/{queue}/remove", summary="Bulk remove: a queue's jobs in one state matching a filter")
async def remove_where(request: Request, queue: str, body: RemoveWhereBody, _p: Admin) -> dict[str, Any]:
    api = await context(request).api()
    removed = await api.remove_where(queue, body.state, function=body.function, tag=body.tag, limit=body.limit)
    return {"queue": queue, "state": body.state.value, "removed": removed}


@router.get("/jobs/{job_id}", summary="Everything about one job")
async def job(request: Request, job_id: str, _p: Viewer) -> dict[str, Any]:
    ctx = context(request)
    return ctx.redactor.job((await (await ctx.api()).job(job_id)).to_dict())


@router.post("/jobs/{job_id}/{action}", summary="Retry, remove, promote or abort one job")
async def job_action(request: Request, job_id: str, action: JobVerb, _p: Admin) -> dict[str, Any]:
    return (await act_on_job(await context(request).api(), action, job_id)).to_dict()


@router.post("/bulk", summary="Bulk retry, remove, promote or abort of chosen jobs")
async def bulk(request: Request, body: BulkBody, _p: Admin) -> dict[str, Any]:
    return (await act_on_jobs(await context(request).api(), body.action, body.ids)).to_dict()


@router.get("/failed", summary="The failed store, newest first, filtered by queue, function and tag")
async def failed(
    request: Request,
    _p: Viewer,
    queue: Annotated[str | None, Query(max_length=100)] = None,
    function: Annotated[str | None, Query(max_length=200)] = None,
    tag: TagQuery = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    ctx = context(request)
    flt = FailedFilter(queue=queue or None, function=function or None, tags=_tags(tag))
    page = await (await ctx.api()).failed(flt, offset=offset, limit=limit)
    return {"total": page.total, "entries": [ctx.redactor.job(e.to_dict()) for e in page.entries]}


@router.get("/failed/{job_id}", summary="One failed-store entry, with its traceback")
async def failed_entry(request: Request, job_id: str, _p: Viewer) -> dict[str, Any]:
    ctx = context(request)
    return ctx.redactor.job((await (await ctx.api()).failed_entry(job_id)).to_dict())


@router.post("/failed/retry", summary="Bulk retry: every failed job matching a filter")
async def failed_retry(request: Request, body: FailedFilterBody, _p: Admin) -> dict[str, Any]:
    return {"retried": await (await context(request).api()).retry_where(body.to_filter())}


@router.post("/failed/flush", summary="Forget every failed-store entry matching a filter")
async def failed_flush(request: Request, body: FailedFilterBody, _p: Admin) -> dict[str, Any]:
    return {"forgotten": await (await context(request).api()).flush_failed(body.to_filter())}


@router.post("/failed/{job_id}/forget", summary="Forget one failed-store entry")
async def failed_forget(request: Request, job_id: str, _p: Admin) -> dict[str, Any]:
    return {"forgotten": await (await context(request).api()).forget_failed([job_id])}


@router.get("/throughput", summary="Completed and failed jobs per minute over the last minutes")
async def throughput(
    request: Request,
    _p: Viewer,
    queue: Annotated[str | None, Query(max_length=100)] = None,
    minutes: Annotated[int, Query(ge=1, le=1440)] = 60,
) -> dict[str, Any]:
    return (await (await context(request).api()).throughput(queue, minutes=minutes)).to_dict()


@router.get("/events", summary="The most recent events (completed, failed, retrying, paused, ...)")
async def events(
    request: Request, _p: Viewer, last: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    api = await context(request).api()
    return [event.to_dict() async for event in api.events(last=last)]


def _tags(tag: str | None) -> dict[str, str]:
    if not tag:
        return {}
    key, sep, value = tag.partition("=")
    if not sep or not key:
        raise UnknownState(f"tag {tag!r} is not key=value")
    return {key: value}
