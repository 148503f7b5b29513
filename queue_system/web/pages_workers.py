"""The dashboard's workers page: the live workers' last heartbeats, refreshed in place every few seconds (the
page's ``data-refresh`` section is re-read by dashboard.js; no reload, no SSE needed for a list this small)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from .api_workers import worker_row
from .auth import Principal
from .pages import render
from .security import context, viewer

Viewer = Annotated[Principal, Depends(viewer)]
REFRESH_S = 3

router = APIRouter(include_in_schema=False)


@router.get("/workers", response_class=HTMLResponse)
async def workers_page(request: Request, principal: Viewer) -> Response:
    api = await context(request).api()
    now_ms = int(time.time() * 1000)
    workers = [worker_row(info, now_ms) for info in await api.workers()]
    postponed = (await api.postponed()).get("*", 0)
    return render(request, "workers.html", principal, workers=workers, postponed=postponed, refresh_s=REFRESH_S)
