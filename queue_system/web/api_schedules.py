"""Schedules and deferred jobs in the JSON API.

Schedules: every one with its next runs; admins add, change and remove the dynamic ones (cron, interval and
condition). A schedule declared in a worker's settings is refused with 409: the worker would put it back at its
next start, so changing it here would only look like it worked. Deferred jobs: a queue's upcoming ones (by tag or
function), moved to another time or cancelled before they start (409 once one has started).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, model_validator

from ..api import QueueAPI
from ..errors import JobStateConflict, ScheduleNotFound
from ..schedule_store import ScheduleState
from .auth import Principal
from .schedule_input import ScheduleBody, build
from .security import admin, context, viewer

Viewer = Annotated[Principal, Depends(viewer)]
Admin = Annotated[Principal, Depends(admin)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
NextRuns = Annotated[int, Query(ge=1, le=50, description="how many next runs to list")]
DYNAMIC = "dynamic"

router = APIRouter(tags=["schedules"])


class RescheduleBody(BaseModel):
    defer_by_s: float | None = Field(default=None, ge=0, le=10 * 365 * 86_400, allow_inf_nan=False)
    defer_until: datetime | None = Field(default=None, description="with a time zone, e.g. 2030-01-01T09:00:00Z")

    @model_validator(mode="after")
    def one_of(self) -> RescheduleBody:
        if (self.defer_by_s is None) == (self.defer_until is None):
            raise ValueError("give either defer_by_s or defer_until")
        if self.defer_until is not None and self.defer_until.tzinfo is None:
            raise ValueError("defer_until needs a time zone (e.g. a trailing Z)")
        return self


@router.get("/schedules", summary="Every schedule (declared and dynamic) with its next runs")
async def schedules(request: Request, _p: Viewer, next_runs: NextRuns = 5) -> list[dict[str, Any]]:
    return [s.to_dict(next_runs) for s in await (await context(request).api()).schedules()]


@router.get("/schedules/{name}", summary="One schedule with its next runs")
async def schedule(request: Request, name: str, _p: Viewer, next_runs: NextRuns = 5) -> dict[str, Any]:
    return (await (await context(request).api()).schedule(name)).to_dict(next_runs)


@router.post("/schedules", status_code=201, summary="Add a dynamic schedule (409 if the name is taken)")
async def add_schedule(request: Request, body: ScheduleBody, _p: Admin) -> dict[str, Any]:
    api = await context(request).api()
    schedule = build(body)
    if not await api.put_schedule(schedule, replace=False):
        raise JobStateConflict(f"a schedule named {schedule.name!r} exists: change it with PUT")
    return (await api.schedule(schedule.name)).to_dict()


@router.put("/schedules/{name}", summary="Add or change a dynamic schedule (a change starts from its next tick)")
async def put_schedule(
    request: Request, name: str, body: ScheduleBody, response: Response, _p: Admin
) -> dict[str, Any]:
    if body.name != name:
        raise JobStateConflict(f"the body names {body.name!r}, the path {name!r}: they must agree")
    api = await context(request).api()
    schedule = build(body)
    existing = await _existing(api, name)
    await api.put_schedule(schedule)
    response.status_code = 200 if existing else 201
    return (await api.schedule(name)).to_dict()


@router.delete("/schedules/{name}", summary="Remove a dynamic schedule")
async def remove_schedule(request: Request, name: str, _p: Admin) -> dict[str, Any]:
    api = await context(request).api()
    await remove_dynamic(api, name)
    return {"name": name, "removed": True}


async def remove_dynamic(api: QueueAPI, name: str) -> None:
    """404 for an unknown name, 409 for a declared one; otherwise gone."""
    state = await api.schedule(name)
    _refuse_declared(state)
    if not await api.remove_schedule(name):
        raise ScheduleNotFound(f"no schedule named {name!r}")


async def _existing(api: QueueAPI, name: str) -> ScheduleState | None:
    try:
        state = await api.schedule(name)
    except ScheduleNotFound:
        return None
    _refuse_declared(state)
    return state


def _refuse_declared(state: ScheduleState) -> None:
    if state.schedule.origin != DYNAMIC:
        raise JobStateConflict(
            f"schedule {state.name!r} is declared in a worker's settings ({state.schedule.origin}): change it there"
        )


@router.get("/queues/{queue}/deferred", summary="A queue's deferred jobs, the soonest due first")
async def deferred(
    request: Request,
    queue: str,
    _p: Viewer,
    tag: Annotated[str | None, Query(description="key=value", max_length=500)] = None,
    function: Annotated[str | None, Query(max_length=200)] = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> dict[str, Any]:
    ctx = context(request)
    page = await (await ctx.api()).deferred(
        queue, tag=tag or None, function=function or None, offset=offset, limit=limit
    )
    data = page.to_dict()
    data["jobs"] = [ctx.redactor.job(job) for job in data["jobs"]]
    return data


@router.post("/deferred/{job_id}/reschedule", summary="Move a job that has not started to another time")
async def reschedule(request: Request, job_id: str, body: RescheduleBody, _p: Admin) -> dict[str, Any]:
    ctx = context(request)
    api = await ctx.api()
    info = await api.reschedule(job_id, defer_by=body.defer_by_s, defer_until=body.defer_until)
    return ctx.redactor.job(info.to_dict())


@router.post("/deferred/{job_id}/cancel", summary="Cancel a job that has not started (409 once it started)")
async def cancel(request: Request, job_id: str, _p: Admin) -> dict[str, Any]:
    return (await (await context(request).api()).cancel(job_id)).to_dict()
