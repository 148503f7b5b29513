"""Workers and limits in the JSON API: every live worker's last heartbeat (a worker that stops beating drops out
of the list when its heartbeat expires) and the jobs postponed so far by rate limits, caps and ``SlowDown``."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from ..heartbeat import WorkerInfo
from .auth import Principal
from .security import context, viewer

Viewer = Annotated[Principal, Depends(viewer)]

router = APIRouter(tags=["workers"])


def worker_row(info: WorkerInfo, now_ms: int) -> dict[str, Any]:
    """The heartbeat plus what a reader wants at a glance: how long ago it beat, and for how long it has run."""
    return {
        **info.to_dict(),
        "heartbeat_age_s": round(max(0, now_ms - info.last_beat_ms) / 1000, 1),
        "uptime_s": round(max(0, now_ms - info.started_at_ms) / 1000, 1),
    }


@router.get("/workers", summary="Live workers: host, pid, queues, concurrency, jobs done/failed, memory, heartbeat")
async def workers(request: Request, _p: Viewer) -> list[dict[str, Any]]:
    now_ms = int(time.time() * 1000)
    return [worker_row(info, now_ms) for info in await (await context(request).api()).workers()]


@router.get("/limits", summary="Jobs postponed by rate limits, concurrency caps and SlowDown, per function")
async def limits(request: Request, _p: Viewer) -> dict[str, Any]:
    postponed = await (await context(request).api()).postponed()
    return {"postponed": postponed, "total": postponed.get("*", sum(postponed.values()))}
