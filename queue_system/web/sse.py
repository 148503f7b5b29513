"""Live counts for the dashboard as server-sent events: every second, the counts of every queue (one pipelined
read of the counters, whatever the queues' sizes), sent only when they changed (and as a keep-alive comment
otherwise), and every 15 s the last hour's completed/failed per minute for the sparklines, until the browser
goes away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from .security import context, viewer

router = APIRouter(include_in_schema=False)
INTERVAL_S = 1.0
SPARKLINE_EVERY = 15  # ticks between sparkline updates


@router.get("/stream")
async def stream(request: Request) -> StreamingResponse:
    await viewer(request)
    api = await context(request).api()

    async def counts() -> AsyncIterator[str]:
        last, tick = "", 0
        while not await request.is_disconnected():
            stats = [s.to_dict() for s in await api.stats()]
            payload = json.dumps({"queues": stats}, separators=(",", ":"))
            yield f"event: stats\ndata: {payload}\n\n" if payload != last else ": keep-alive\n\n"
            last = payload
            if tick % SPARKLINE_EVERY == SPARKLINE_EVERY - 1:  # the page drew the sparklines when it loaded
                series = {q: t.to_dict() for q, t in (await api.throughputs(minutes=60)).items()}
                yield f"event: throughput\ndata: {json.dumps(series, separators=(',', ':'))}\n\n"
            tick += 1
            await asyncio.sleep(INTERVAL_S)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(counts(), media_type="text/event-stream", headers=headers)
