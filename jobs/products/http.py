"""The product batch endpoints (seed 003, issue 8), over jobs.py's ``create_product_items_async`` and friends.

    POST /api/products/batches                       create a batch (name, product name, QR code prefix)
    POST /api/products/batches/{id}/items            queue N items: the seed's answer
                                                     ``{success, batch_id, total_quantity, jobs_created, job_ids,
                                                     estimated_duration}``
    GET  /api/products/batches/{id}/progress         the batch's jobs: total / waiting / active / completed /
                                                     failed, and its items (``items``: planned, created, status)
    POST /api/products/batches/{id}/retry            re-create the batch's failed jobs with fresh tries

An unknown batch is a 404 with a message, bad input (quantity out of range, a bad prefix) a 422, another prefix
on a batch that already has items a 409: ``{"success": false, "message": ...}`` (jobs.http_answers), never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from queue_system import QueueAPI

from ..db import Database
from ..http_answers import answer, answering_route
from .batches import MAX_PREFIX, batch_progress, create_batch
from .errors import BatchNotFound, InvalidItemRequest, ItemRangeOutsideBatch, QrPrefixConflict
from .jobs import create_product_items_async, get_batch_job_progress, retry_failed_batch_jobs
from .planner import MAX_QUANTITY

PREFIX = "/api/products"
ERRORS: dict[type[Exception], int] = {
    BatchNotFound: 404,
    InvalidItemRequest: 422,
    QrPrefixConflict: 409,
    ItemRangeOutsideBatch: 409,
}


@dataclass(frozen=True)
class ProductBackends:
    db: Database
    queues: QueueAPI


BackendsProvider = Callable[[Request], Awaitable[ProductBackends]]


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    product_name: str | None = Field(default=None, max_length=300)
    qr_code_prefix: str | None = Field(default=None, min_length=1, max_length=MAX_PREFIX)


class ItemsIn(BaseModel):
    """``create_product_items_async``'s parameters."""

    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    batch_size: int = Field(default=100, ge=1, le=MAX_QUANTITY)
    qr_code_prefix: str | None = Field(default=None, min_length=1, max_length=MAX_PREFIX)
    max_jobs_per_batch: int = Field(default=1000, ge=1, le=100_000)


def product_router(
    backends: BackendsProvider, *, read: Sequence[DependsParam] = (), write: Sequence[DependsParam] = ()
) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["products"], route_class=answering_route(ERRORS))
    using = Depends(backends)
    reads, writes = list(read), list(write)

    @router.post("/batches", dependencies=writes, status_code=201)
    async def new_batch(body: BatchIn, b: ProductBackends = using) -> JSONResponse:
        batch_id = await create_batch(
            b.db, body.name, product_name=body.product_name, qr_code_prefix=body.qr_code_prefix
        )
        return answer(f"Batch {batch_id} created", http_status=201, batch_id=batch_id)

    @router.post("/batches/{batch_id}/items", dependencies=writes, status_code=202)
    async def items(batch_id: int, body: ItemsIn, b: ProductBackends = using) -> JSONResponse:
        result = await create_product_items_async(
            b.db,
            b.queues.client,
            batch_id,
            body.quantity,
            batch_size=body.batch_size,
            qr_code_prefix=body.qr_code_prefix,
            max_jobs_per_batch=body.max_jobs_per_batch,
        )
        return JSONResponse(result, status_code=202)

    @router.get("/batches/{batch_id}/progress", dependencies=reads)
    async def progress(batch_id: int, b: ProductBackends = using) -> JSONResponse:
        items = await batch_progress(b.db, batch_id)  # 404 for an unknown batch, before asking the queue
        jobs = await get_batch_job_progress(b.queues, batch_id)
        fields: dict[str, Any] = {"batch_id": batch_id, **jobs, "items": items.as_dict()}
        return answer(**fields)

    @router.post("/batches/{batch_id}/retry", dependencies=writes)
    async def retry(batch_id: int, b: ProductBackends = using) -> JSONResponse:
        await batch_progress(b.db, batch_id)
        retried = await retry_failed_batch_jobs(b.db, b.queues.client, batch_id)
        return answer(f"Retried {retried} failed jobs", batch_id=batch_id, retried=retried)

    return router


def mount_products(
    app: FastAPI, backends: BackendsProvider, *, read: Sequence[DependsParam] = (), write: Sequence[DependsParam] = ()
) -> None:
    app.include_router(product_router(backends, read=read, write=write))
