"""The certificate system's HTTP endpoints, with the paths and answer shapes of seed 000.

    POST /api/certificates/generate-event/{event_id}     queue one render job per participant
    POST /api/certificates/send-event/{event_id}         queue one email job per generated certificate
    GET  /api/certificates/queue/status[/{event_id}]     waiting/active/completed/failed per queue (and event)
    POST /api/certificates/queue/retry/certificate       re-run the failed render jobs with fresh tries
    POST /api/certificates/queue/retry/email             re-run the failed email jobs with fresh tries
    POST /api/certificates/queue/clean                   drop the completed jobs' records

Every answer is ``{"success": bool, "message"?: str, "data"?: {...}}`` as the seed's clients expect, errors
included (404 for an unknown event), so a client never has to parse FastAPI's ``detail`` shape. Who may call
them is the embedding app's decision: it passes its authentication as router dependencies.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse

from queue_system import JobFunction, QueueAPI
from queue_system.views import Counts

from ..db import Database
from .jobs import generate_certificate, send_certificate_email
from .service import EventNotFound, QueueReport, queue_event_certificates, queue_event_emails, retry_failed_jobs

PREFIX = "/api/certificates"


@dataclass(frozen=True)
class CertificateBackends:
    """What the endpoints work with: the domain database, the queue's read/steer API, and the workers' sender
    (``MAIL_FROM``): with it, send-event creates the pending delivery rows (and their Message-IDs) in one
    statement when it queues the emails, instead of each email job inserting its own."""

    db: Database
    queues: QueueAPI
    sender: str | None = None


BackendsProvider = Callable[[Request], Awaitable[CertificateBackends]]


def certificate_router(
    backends: BackendsProvider, *, read: Sequence[DependsParam] = (), write: Sequence[DependsParam] = ()
) -> APIRouter:
    """The seed's endpoints; ``backends`` resolves the database and queue API per request, ``read`` guards the
    status routes and ``write`` the ones that queue, retry or clean."""
    router = APIRouter(prefix=PREFIX, tags=["certificates"])
    using = Depends(backends)
    reads, writes = list(read), list(write)

    @router.post("/generate-event/{event_id}", dependencies=writes)
    async def generate_event(event_id: int, b: CertificateBackends = using) -> JSONResponse:
        return await _queue_answer(queue_event_certificates, b, event_id, "certificate generation")

    @router.post("/send-event/{event_id}", dependencies=writes)
    async def send_event(event_id: int, b: CertificateBackends = using) -> JSONResponse:
        return await _queue_answer(functools.partial(queue_event_emails, sender=b.sender), b, event_id, "email sending")

    @router.get("/queue/status", dependencies=reads)
    async def status(b: CertificateBackends = using) -> JSONResponse:
        return _answer(data=await _status(b.queues, None))

    @router.get("/queue/status/{event_id}", dependencies=reads)
    async def event_status(event_id: int, b: CertificateBackends = using) -> JSONResponse:
        return _answer(data=await _status(b.queues, event_id))

    @router.post("/queue/retry/certificate", dependencies=writes)
    async def retry_certificates(b: CertificateBackends = using) -> JSONResponse:
        return await _retry_answer(generate_certificate, b)

    @router.post("/queue/retry/email", dependencies=writes)
    async def retry_emails(b: CertificateBackends = using) -> JSONResponse:
        return await _retry_answer(send_certificate_email, b)

    @router.post("/queue/clean", dependencies=writes)
    async def clean(b: CertificateBackends = using) -> JSONResponse:
        removed = {fn.spec.queue: await b.queues.clean(fn.spec.queue, "completed") for fn in _FUNCTIONS}
        total = sum(removed.values())
        return _answer(f"Removed {total} completed jobs", data={"removed": removed})

    return router


def mount_certificates(
    app: FastAPI, backends: BackendsProvider, *, read: Sequence[DependsParam] = (), write: Sequence[DependsParam] = ()
) -> None:
    """Serve the endpoints in ``app`` (one call), answering unknown events with the seed's 404 shape."""
    app.include_router(certificate_router(backends, read=read, write=write))
    app.add_exception_handler(EventNotFound, _event_not_found)


_FUNCTIONS: tuple[JobFunction[Any, Any], ...] = (generate_certificate, send_certificate_email)
QueueCall = Callable[..., Awaitable[QueueReport]]


async def _queue_answer(call: QueueCall, b: CertificateBackends, event_id: int, what: str) -> JSONResponse:
    report: QueueReport = await call(b.db, event_id, client=b.queues.client)
    data = {
        **report.as_dict(),
        "queue_info": {"name": report.queue, "message": "Jobs are being processed in the background..."},
    }
    return _answer(f"Added {report.queued} {what} jobs to queue", data=data)


async def _retry_answer(function: JobFunction[Any, Any], b: CertificateBackends) -> JSONResponse:
    retried = await retry_failed_jobs(function, client=b.queues.client)
    return _answer(f"Retried {retried} failed jobs", data={"queue": function.spec.queue, "retried": retried})


async def _status(queues: QueueAPI, event_id: int | None) -> dict[str, Any]:
    """Per queue: ``total`` over all its jobs and, for one event, ``event`` over the jobs tagged with it."""
    data: dict[str, Any] = {}
    for key, function in (("certificate_queue", generate_certificate), ("email_queue", send_certificate_email)):
        queue = function.spec.queue
        entry = {"total": _seed_counts(await queues.counts(queue))}
        if event_id is not None:
            entry["event"] = _seed_counts(await queues.counts(queue, tag=("event_id", str(event_id))))
        data[key] = entry
    return data


def _seed_counts(counts: Counts) -> dict[str, int]:
    """The seed's four numbers: everything not yet started (deferred and backing-off included) is waiting."""
    return {
        "waiting": counts.waiting + counts.delayed + counts.retrying,
        "active": counts.active,
        "completed": counts.completed,
        "failed": counts.failed,
    }


def _answer(message: str | None = None, *, data: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"success": status < 400}
    if message is not None:
        body["message"] = message
    if data is not None:
        body["data"] = data
    return JSONResponse(body, status_code=status)


async def _event_not_found(_request: Request, exc: Exception) -> JSONResponse:
    return _answer(str(exc), status=404)
