"""The dashboard's batch pages: the list with progress bars, one batch with its jobs by outcome, and the admin's
cancel and retry-failed buttons (CSRF-checked forms that redirect back with a message)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from .api_batches import Outcome, cancel_running
from .auth import Principal
from .pages import render
from .routes_pages import back
from .security import admin, context, viewer

Viewer = Annotated[Principal, Depends(viewer)]
Admin = Annotated[Principal, Depends(admin)]
PAGE = 50
JOBS_SHOWN = 200

router = APIRouter(include_in_schema=False)


@router.get("/batches", response_class=HTMLResponse)
async def batches_page(
    request: Request, principal: Viewer, offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0
) -> Response:
    page = await (await context(request).api()).batches(offset=offset, limit=PAGE)
    return render(
        request,
        "batches.html",
        principal,
        total=page.total,
        batches=[b.to_dict() for b in page.batches],
        prev_url=f"?{urlencode({'offset': max(offset - PAGE, 0)})}" if offset else None,
        next_url=f"?{urlencode({'offset': offset + PAGE})}" if offset + PAGE < page.total else None,
    )


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
async def batch_page(request: Request, batch_id: str, principal: Viewer, outcome: Outcome | None = None) -> Response:
    api = await context(request).api()
    info = await api.batch(batch_id)
    jobs = await api.batch_jobs(batch_id, outcome.value if outcome else None)
    shown = sorted(jobs)[:JOBS_SHOWN]
    return render(
        request,
        "batch.html",
        principal,
        batch=info.to_dict(),
        outcome=outcome.value if outcome else "",
        outcomes=[o.value for o in Outcome],
        jobs=[(job_id, jobs[job_id]) for job_id in shown],
        more=len(jobs) - len(shown),
    )


@router.post("/batches/{batch_id}/cancel")
async def cancel_form(request: Request, batch_id: str, _p: Admin) -> Response:
    removed = await cancel_running(await context(request).api(), batch_id)
    return back(request, f"batches/{batch_id}", f"batch cancelled: {removed} queued job(s) removed")


@router.post("/batches/{batch_id}/retry")
async def retry_form(request: Request, batch_id: str, _p: Admin) -> Response:
    retried = await (await context(request).api()).retry_batch(batch_id)
    return back(request, f"batches/{batch_id}", f"retried {retried} failed job(s) of the batch")
