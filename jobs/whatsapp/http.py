"""The WhatsApp blast endpoints (seed 004, issue 8), over the service functions of blasts.py and the queue.

    POST  /api/whatsapp/blasts                        create (and schedule, with ``send_at``) a blast
    GET   /api/whatsapp/blasts?status=&offset=&limit= blasts, newest first
    GET   /api/whatsapp/blasts/{id}                   one blast, its deliveries counted by status
    PATCH /api/whatsapp/blasts/{id}                   name, variables, ``send_at`` (reschedules; null: DRAFT)
    POST  /api/whatsapp/blasts/{id}/cancel            cancel a DRAFT or SCHEDULED blast
    GET   /api/whatsapp/blasts/{id}/deliveries        its deliveries, by status, paged
    GET   /api/whatsapp/templates?status=             templates with their review status
    POST  /api/whatsapp/templates/sync                queue a template sync now (what the 30-minute cron runs)

Answers are ``{"success", "message"?, ...}`` (jobs.http_answers). Invalid phone numbers refuse the whole blast
with 422 and each number's reason, unless ``skip_invalid`` asks to leave them out (they are then listed in
``rejected``): a typo in a list should be seen, not silently not messaged. Variables that do not fill the
template body's {{1}} … {{n}} one for one are a 422 too. A template that is not APPROVED
(or a blast already started) is a 409; an unknown blast a 404. Scheduling goes through
``QueueBlastScheduler``, so a moved blast's old time never runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from queue_system import QueueAPI

from ..db import Database
from ..db.whatsapp import BlastStatus, MessageStatus, TemplateStatus
from ..http_answers import answer, answering_route
from .blasts import BlastDraft, cancel_blast, check_blast_variables, create_blast, reschedule_blast, update_blast
from .errors import (
    BlastNotEditable,
    BlastNotFound,
    NoValidRecipients,
    TemplateNotApproved,
    TemplateNotFound,
    TemplateVariablesMismatch,
    WhatsAppNotConfigured,
)
from .jobs import QueueBlastScheduler, sync_whatsapp_templates
from .phones import validate_numbers
from .queries import Page, blast_detail, list_blasts, list_deliveries, list_templates

PREFIX = "/api/whatsapp"
MAX_RECIPIENTS = 100_000
ERRORS: dict[type[Exception], int] = {
    BlastNotFound: 404,
    TemplateNotFound: 422,  # named in the request body
    NoValidRecipients: 422,
    TemplateVariablesMismatch: 422,
    TemplateNotApproved: 409,
    BlastNotEditable: 409,
    WhatsAppNotConfigured: 409,
}
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]


@dataclass(frozen=True)
class WhatsAppBackends:
    """The domain database and the queue's API (its client enqueues, its reschedule / cancel move jobs)."""

    db: Database
    queues: QueueAPI

    @property
    def scheduler(self) -> QueueBlastScheduler:
        return QueueBlastScheduler(self.queues.client, self.queues)


BackendsProvider = Callable[[Request], Awaitable[WhatsAppBackends]]


class BlastIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    template: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=1, max_length=16)
    variables: list[str] = Field(default_factory=list, max_length=100)
    send_at: AwareDatetime | None = None  # none: a DRAFT, scheduled later with PATCH
    recipients: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    default_region: str | None = Field(default=None, min_length=2, max_length=2)  # for numbers without +country
    skip_invalid: bool = False


class BlastChange(BaseModel):
    """Only the fields sent are changed; ``"send_at": null`` takes the blast back to DRAFT."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=300)
    variables: list[str] | None = Field(default=None, max_length=100)
    send_at: AwareDatetime | None = None


def whatsapp_router(
    backends: BackendsProvider, *, read: Sequence[DependsParam] = (), write: Sequence[DependsParam] = ()
) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["whatsapp"], route_class=answering_route(ERRORS))
    using = Depends(backends)
    reads, writes = list(read), list(write)

    @router.post("/blasts", dependencies=writes, status_code=201)
    async def create(body: BlastIn, b: WhatsAppBackends = using) -> JSONResponse:
        return await _create(body, b)

    @router.get("/blasts", dependencies=reads)
    async def blasts(
        b: WhatsAppBackends = using, status: BlastStatus | None = None, offset: Offset = 0, limit: Limit = 50
    ) -> JSONResponse:
        return _page("blasts", await list_blasts(b.db, status, offset, limit))

    @router.get("/blasts/{blast_id}", dependencies=reads)
    async def blast(blast_id: int, b: WhatsAppBackends = using) -> JSONResponse:
        return answer(blast=await blast_detail(b.db, blast_id))

    @router.patch("/blasts/{blast_id}", dependencies=writes)
    async def change(blast_id: int, body: BlastChange, b: WhatsAppBackends = using) -> JSONResponse:
        return await _change(blast_id, body, b)

    @router.post("/blasts/{blast_id}/cancel", dependencies=writes)
    async def cancel(blast_id: int, b: WhatsAppBackends = using) -> JSONResponse:
        await cancel_blast(b.db, blast_id, b.scheduler)
        return answer(f"Blast {blast_id} cancelled", blast=await blast_detail(b.db, blast_id))

    @router.get("/blasts/{blast_id}/deliveries", dependencies=reads)
    async def deliveries(
        blast_id: int,
        b: WhatsAppBackends = using,
        status: MessageStatus | None = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> JSONResponse:
        return _page("deliveries", await list_deliveries(b.db, blast_id, status, offset, limit))

    @router.get("/templates", dependencies=reads)
    async def templates(b: WhatsAppBackends = using, status: TemplateStatus | None = None) -> JSONResponse:
        return answer(templates=await list_templates(b.db, status))

    @router.post("/templates/sync", dependencies=writes, status_code=202)
    async def sync(b: WhatsAppBackends = using) -> JSONResponse:
        job = await sync_whatsapp_templates.options(client=b.queues.client).enqueue()
        return answer("Template sync queued", http_status=202, job_id=job.job_id)

    return router


def mount_whatsapp(
    app: FastAPI, backends: BackendsProvider, *, read: Sequence[DependsParam] = (), write: Sequence[DependsParam] = ()
) -> None:
    app.include_router(whatsapp_router(backends, read=read, write=write))


async def _create(body: BlastIn, b: WhatsAppBackends) -> JSONResponse:
    numbers = validate_numbers(body.recipients, body.default_region)
    if numbers.rejected and not body.skip_invalid:
        reasons = "; ".join(f"{r.input!r}: {r.reason}" for r in numbers.rejected[:20])
        more = f" (and {len(numbers.rejected) - 20} more)" if len(numbers.rejected) > 20 else ""
        message = f"{len(numbers.rejected)} invalid phone numbers: {reasons}{more}"
        return answer(message, http_status=422, rejected=numbers.rejected)
    # numbers.valid are E.164 already; create_blast validates them again (its own contract)
    draft = BlastDraft(body.name, body.template, body.language, numbers.valid, body.variables, body.send_at)
    created = await create_blast(b.db, draft, b.scheduler)
    data = {**created.as_dict(), "rejected": numbers.rejected, "duplicates": numbers.duplicates}
    what = "scheduled" if body.send_at else "saved as a draft"
    return answer(f"Blast {created.blast_id} {what} for {created.total_recipients} recipients", http_status=201, **data)


async def _change(blast_id: int, body: BlastChange, b: WhatsAppBackends) -> JSONResponse:
    fields = body.model_fields_set
    if not fields:
        return answer("nothing to change: send name, variables or send_at", http_status=422)
    if body.variables is not None:  # checked before anything changes: a refused change leaves the blast as it was
        await check_blast_variables(b.db, blast_id, body.variables)
    if "send_at" in fields:  # then the move, which can be refused too (the template is no longer APPROVED)
        await reschedule_blast(b.db, blast_id, body.send_at, b.scheduler)
    if "name" in fields or "variables" in fields:
        await update_blast(b.db, blast_id, name=body.name, variables=body.variables)
    return answer(f"Blast {blast_id} updated", blast=await blast_detail(b.db, blast_id))


def _page(key: str, page: Page) -> JSONResponse:
    fields: dict[str, Any] = {"total": page.total, "offset": page.offset, "limit": page.limit, key: page.items}
    return answer(**fields)
