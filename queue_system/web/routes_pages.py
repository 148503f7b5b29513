"""The dashboard's server-rendered pages and the forms behind their buttons.

Every form posts with the session's CSRF token and answers with a redirect back (so a reload never repeats an
action); the role is checked on the server whatever the page showed. Pages read through the public read API.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..api import QueueAPI
from ..errors import JobNotFound
from ..failed import FailedFilter
from ..types import JobState
from ..views import JobPage
from .actions import JobVerb, act_on_job, act_on_jobs
from .auth import Principal
from .pages import render
from .security import admin, context, viewer
from .sparkline import points

Viewer = Annotated[Principal, Depends(viewer)]
Admin = Annotated[Principal, Depends(admin)]
PAGE = 50

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, principal: Viewer) -> Response:
    api = await context(request).api()
    stats = await api.stats()
    series = await api.throughputs(minutes=60)
    peak = max((max(t.completed + t.failed) for t in series.values()), default=1)
    rows = []
    for s in stats:
        t = series.get(s.queue)
        rows.append(
            {
                "stats": s,
                "done_points": points(t.completed, peak) if t else "",
                "failed_points": points(t.failed, peak) if t else "",
                "last_hour": (sum(t.completed), sum(t.failed)) if t else (0, 0),
            }
        )
    return render(request, "overview.html", principal, rows=rows, states=list(JobState))


@router.get("/queues/{queue}", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    queue: str,
    principal: Viewer,
    state: JobState = JobState.WAITING,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    ctx = context(request)
    api = await ctx.api()
    stats = (await api.stats(queue))[0]
    if q.strip() and await _is_job_id(api, q.strip()):  # searching by id goes straight to the job
        return RedirectResponse(str(request.url_for("job_page", job_id=q.strip())), status_code=303)
    page = await _search(api, queue, state, q.strip(), offset)
    jobs = [ctx.redactor.job(job.to_dict()) for job in page.jobs]
    base = {"state": state.value, "q": q}
    searched = page.scanned is not None  # a payload search: a cursor to continue from, no way back
    return render(
        request,
        "queue.html",
        principal,
        stats=stats,
        state=state,
        states=list(JobState),
        q=q,
        page=page,
        jobs=jobs,
        searched=searched,
        prev_url=f"?{urlencode({**base, 'offset': max(offset - PAGE, 0)})}" if offset and not searched else None,
        next_url=f"?{urlencode({**base, 'offset': _next(page)})}" if page.more else None,
    )


def _next(page: JobPage) -> int:
    return page.next_cursor if page.next_cursor is not None else page.offset + PAGE


async def _is_job_id(api: QueueAPI, text: str) -> bool:
    if ":" in text or " " in text or len(text) > 200:
        return False
    try:
        await api.job(text)
    except JobNotFound:
        return False
    return True


async def _search(api: QueueAPI, queue: str, state: JobState, q: str, offset: int) -> JobPage:
    """``q``: ``function:NAME`` or ``tag:k=v`` (paged from their index, exact total) or text found in the payload
    (a bounded search that continues from ``offset``)."""
    if q.startswith("function:"):
        return await api.jobs(queue, state, function=q[len("function:") :], offset=offset, limit=PAGE)
    if q.startswith("tag:"):
        return await api.jobs(queue, state, tag=q[len("tag:") :], offset=offset, limit=PAGE)
    if q:
        return await api.search(queue, state, q, cursor=offset, limit=PAGE)
    return await api.jobs(queue, state, offset=offset, limit=PAGE)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
async def job_page(request: Request, job_id: str, principal: Viewer) -> Response:
    ctx = context(request)
    job = ctx.redactor.job((await (await ctx.api()).job(job_id)).to_dict())
    return render(request, "job.html", principal, job=job)


@router.get("/failed", response_class=HTMLResponse)
async def failed_page(
    request: Request,
    principal: Viewer,
    queue: Annotated[str, Query(max_length=100)] = "",
    function: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    ctx = context(request)
    flt = FailedFilter(queue=queue or None, function=function or None)
    page = await (await ctx.api()).failed(flt, offset=offset, limit=PAGE)
    entries = [ctx.redactor.job(e.to_dict()) for e in page.entries]
    base = {"queue": queue, "function": function}
    return render(
        request,
        "failed.html",
        principal,
        total=page.total,
        entries=entries,
        queue=queue,
        function=function,
        prev_url=f"?{urlencode({**base, 'offset': max(offset - PAGE, 0)})}" if offset else None,
        next_url=f"?{urlencode({**base, 'offset': offset + PAGE})}" if offset + PAGE < page.total else None,
    )


# ---- forms ----------------------------------------------------------------------------------------------------


def back(request: Request, fallback: str, message: str) -> RedirectResponse:
    """Back to the page the form was on (only ever a page of this dashboard), with a message."""
    root = str(request.url_for("overview"))
    referer = request.headers.get("referer") or ""
    target = referer if referer.startswith(root) else root + fallback
    sep = "&" if "?" in target else "?"
    target = target.split("#")[0]
    if "flash=" in target:
        target = target[: target.index("flash=") - 1]
        sep = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{sep}{urlencode({'flash': message})}", status_code=303)


@router.post("/queues/{queue}/pause")
async def pause_form(request: Request, queue: str, _p: Admin) -> Response:
    await (await context(request).api()).pause(queue)
    return back(request, f"queues/{queue}", f"{queue} paused")


@router.post("/queues/{queue}/resume")
async def resume_form(request: Request, queue: str, _p: Admin) -> Response:
    await (await context(request).api()).resume(queue)
    return back(request, f"queues/{queue}", f"{queue} resumed")


@router.post("/queues/{queue}/clean")
async def clean_form(request: Request, queue: str, _p: Admin, state: Annotated[JobState, Form()]) -> Response:
    removed = await (await context(request).api()).clean(queue, state)
    return back(request, f"queues/{queue}", f"removed {removed} {state.value} job(s)")


@router.post("/queues/{queue}/bulk")
async def bulk_form(
    request: Request,
    queue: str,
    _p: Admin,
    action: Annotated[JobVerb, Form()],
    ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    result = await act_on_jobs(await context(request).api(), action, ids or [])
    message = f"{action.value}: {result.done} done, {len(result.skipped)} skipped"
    return back(request, f"queues/{queue}", message)


@router.post("/jobs/{job_id}/{action}")
async def job_form(request: Request, job_id: str, action: JobVerb, _p: Admin) -> Response:
    result = await act_on_job(await context(request).api(), action, job_id)
    return back(request, f"jobs/{job_id}", f"{job_id}: {result.outcome}")


def _failed_filter_form(
    queue: Annotated[str, Form(max_length=100)] = "",
    function: Annotated[str, Form(max_length=200)] = "",
) -> FailedFilter:
    """The failed page's filter form, which its bulk actions (retry, flush) submit with them."""
    return FailedFilter(queue=queue or None, function=function or None)


FailedFilterForm = Annotated[FailedFilter, Depends(_failed_filter_form)]


@router.post("/failed/retry")
async def failed_retry_form(request: Request, _p: Admin, flt: FailedFilterForm) -> Response:
    retried = await (await context(request).api()).retry_where(flt)
    return back(request, "failed", f"retried {retried} failed job(s)")


@router.post("/failed/flush")
async def failed_flush_form(request: Request, _p: Admin, flt: FailedFilterForm) -> Response:
    forgotten = await (await context(request).api()).flush_failed(flt)
    return back(request, "failed", f"forgot {forgotten} failed job(s)")


@router.post("/failed/{job_id}/forget")
async def failed_forget_form(request: Request, job_id: str, _p: Admin) -> Response:
    await (await context(request).api()).forget_failed([job_id])
    return back(request, "failed", f"{job_id} forgotten")
