"""The dashboard's schedules page: every schedule with its next runs, a remove button for dynamic ones and a
small add form (cron expression or interval) for admins. The form is validated exactly as the JSON API's body
(schedule_input.py), so a bad expression shows its message instead of being stored."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from ..errors import ConfigError, JobStateConflict
from .api_schedules import DYNAMIC, remove_dynamic
from .auth import Principal
from .pages import render
from .routes_pages import back
from .schedule_input import CronBody, IntervalBody, build
from .security import admin, context, viewer

Viewer = Annotated[Principal, Depends(viewer)]
Admin = Annotated[Principal, Depends(admin)]
NEXT_RUNS = 3

router = APIRouter(include_in_schema=False)


@router.get("/schedules", response_class=HTMLResponse)
async def schedules_page(request: Request, principal: Viewer) -> Response:
    states = await (await context(request).api()).schedules()
    return render(
        request, "schedules.html", principal, schedules=[s.to_dict(NEXT_RUNS) for s in states], dynamic=DYNAMIC
    )


@router.post("/schedules/add")
async def add_form(
    request: Request,
    _p: Admin,
    kind: Annotated[Literal["cron", "interval"], Form()],
    name: Annotated[str, Form(max_length=100)],
    function: Annotated[str, Form(max_length=200)],
    when: Annotated[str, Form(max_length=200, description="a cron expression, or seconds")],
    queue: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    body = _body(kind, name.strip(), function.strip(), when.strip(), queue.strip() or None)
    api = await context(request).api()
    schedule = build(body)
    if not await api.put_schedule(schedule, replace=False):
        raise JobStateConflict(f"a schedule named {schedule.name!r} exists: remove it first")
    return back(request, "schedules", f"schedule {schedule.name} added")


@router.post("/schedules/{name}/remove")
async def remove_form(request: Request, name: str, _p: Admin) -> Response:
    await remove_dynamic(await context(request).api(), name)
    return back(request, "schedules", f"schedule {name} removed")


def _body(kind: str, name: str, function: str, when: str, queue: str | None) -> CronBody | IntervalBody:
    """The form's fields as the API's body; pydantic's complaint becomes one readable message."""
    try:
        fields = {"kind": kind, "name": name, "function": function, "queue": queue}
        if kind == "cron":
            return CronBody.model_validate({**fields, "cron": when})
        return IntervalBody.model_validate({**fields, "every_s": when})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"the schedule was not added: {problems}") from exc
