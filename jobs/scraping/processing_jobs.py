"""The data-processing jobs (queue ``data-processing``): validate, save, index — the chain every scrape feeds.

    scrape ──► validate-data ──valid records──► save-product-data ──product ids──► update-search-index
                          └─► save-shop-data / save-order-data

Each step enqueues the next with a job id derived from its own, so a step that is retried (or replayed from the
failed store) never starts a second copy of the rest of the chain while the first is still known to Redis.
Follow-ups inherit the priority of the job that enqueued them. Records travel in the payload in chunks of
``SCRAPER_CHUNK_SIZE``; product ids, not documents, go to the index step, which reads the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from queue_system import Exponential, JobContext, JobFunction, PermanentFailure, Priority, job
from queue_system.logging_setup import get_logger

from ..queues import DATA_PROCESSING
from .context import job_id, job_priority
from .records import Record
from .runtime import runtime_from
from .search import update_index
from .storage import save_orders, save_products, save_shops
from .validation import KEY_FIELDS, parse_rules, validate_records

log = get_logger(__name__)
_BACKOFF = Exponential(1, max_delay=30)


@job(name="save-product-data", queue=DATA_PROCESSING, max_tries=3, backoff=_BACKOFF, timeout=300)
async def save_product_data(ctx: JobContext, products: list[Record], index: bool = True) -> dict[str, Any]:
    """Upsert products (keeping their price history), then queue their search-index update."""
    runtime = await runtime_from(ctx)
    saved = await save_products(runtime.db, products)
    result = saved.as_dict()
    if index and saved.ids:
        follow_up = await update_search_index.options(
            job_id=f"{job_id(ctx)}:index", priority=job_priority(ctx, Priority.NORMAL)
        ).enqueue(saved.ids, "index")
        result["index_job"] = follow_up.job_id
    return result


@job(name="save-shop-data", queue=DATA_PROCESSING, max_tries=3, backoff=_BACKOFF, timeout=300)
async def save_shop_data(ctx: JobContext, shops: list[Record]) -> dict[str, Any]:
    """Upsert shop profiles."""
    runtime = await runtime_from(ctx)
    return {"saved": await save_shops(runtime.db, shops)}


@job(name="save-order-data", queue=DATA_PROCESSING, max_tries=3, backoff=_BACKOFF, timeout=300)
async def save_order_data(ctx: JobContext, orders: list[Record]) -> dict[str, Any]:
    """Upsert an account's orders."""
    runtime = await runtime_from(ctx)
    return {"saved": await save_orders(runtime.db, orders)}


@job(name="update-search-index", queue=DATA_PROCESSING, max_tries=3, backoff=_BACKOFF, timeout=300)
async def update_search_index(
    ctx: JobContext, product_ids: list[int], operation: Literal["index", "update", "delete"] = "index"
) -> dict[str, Any]:
    """Bring the search documents of these products (our ids) in line with the products table."""
    runtime = await runtime_from(ctx)
    return (await update_index(runtime.db, operation, product_ids)).as_dict()


# What validate-data may hand its valid records to, by job name (``then=``).
SAVE_JOBS: dict[str, JobFunction[Any, Any]] = {j.name: j for j in (save_product_data, save_shop_data, save_order_data)}


@job(name="validate-data", queue=DATA_PROCESSING, max_tries=3, backoff=_BACKOFF, timeout=300)
async def validate_data(
    ctx: JobContext,
    data: list[Record],
    rules: str | list[dict[str, Any]],
    then: str | None = None,
    key_field: str | None = None,
) -> dict[str, Any]:
    """Check records against declared rules (a rule set's name or inline rules); errors per field, per record.

    With ``then`` (a save job's name), the valid records are queued to it; invalid ones are reported only.
    """
    parsed = parse_rules(rules)
    key = key_field or (KEY_FIELDS.get(rules) if isinstance(rules, str) else None) or "id"
    report = validate_records(data, parsed, key)
    result = report.as_dict()
    if report.errors:
        log.warning(
            "validation.rejected", invalid=report.invalid_records, valid=len(report.valid), first=result["errors"][:3]
        )
    if then is not None and report.valid:
        target = SAVE_JOBS.get(then)
        if target is None:
            raise PermanentFailure(f"validate-data cannot hand records to {then!r}; it knows {sorted(SAVE_JOBS)}")
        follow_up = await target.options(
            job_id=f"{job_id(ctx)}:save", priority=job_priority(ctx, Priority.NORMAL)
        ).enqueue(report.valid)
        result["save_job"] = follow_up.job_id
    return result


async def forward_records(
    ctx: JobContext,
    records: Sequence[Mapping[str, object]],
    rules: str,
    save_job: JobFunction[Any, Any],
    *,
    part: str | int,
) -> str | None:
    """Queue validation (then saving) of records a scraping job produced; returns the validation job's id."""
    if not records:
        return None
    follow_up = await validate_data.options(
        job_id=f"{job_id(ctx)}:validate:{part}", priority=job_priority(ctx, Priority.NORMAL)
    ).enqueue([dict(r) for r in records], rules, save_job.name)
    return follow_up.job_id


def chunks(records: Sequence[Mapping[str, object]], size: int) -> list[list[Record]]:
    return [[dict(r) for r in records[i : i + size]] for i in range(0, len(records), size)]


PROCESSING_JOBS: list[JobFunction[Any, Any]] = [
    validate_data,
    save_product_data,
    save_shop_data,
    save_order_data,
    update_search_index,
]
