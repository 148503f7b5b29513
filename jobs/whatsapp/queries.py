"""Read-only views of blasts, deliveries and templates for the HTTP endpoints (http.py), as plain dicts.

Kept apart from blasts.py, which changes blasts: these only read, page and count. A blast's live counts come
from its deliveries (``blasts.delivery_counts``, the ledger); the ``*_count`` columns are what the sender
recorded when it settled the blast. Pages are ordered newest first (blasts) or by delivery id (deliveries, the
order the sender works in), with the total matching the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from ..db import Database
from ..db.whatsapp import BlastStatus, MessageStatus, TemplateStatus, WhatsAppBlast, WhatsAppDelivery, WhatsAppTemplate
from .blasts import delivery_counts
from .errors import BlastNotFound
from .templates import parameter_count


@dataclass(frozen=True)
class Page:
    total: int
    offset: int
    limit: int
    items: list[dict[str, Any]]


async def blast_detail(db: Database, blast_id: int) -> dict[str, Any]:
    """One blast with its template's name and its deliveries counted by status (every status, zeros included)."""
    async with db.session() as session:
        row = (await session.execute(_blasts().where(WhatsAppBlast.id == blast_id))).first()
    if row is None:
        raise BlastNotFound(f"no blast {blast_id}")
    counts = {str(status): 0 for status in MessageStatus}
    counts.update(await delivery_counts(db, blast_id))
    return {**_blast(row.WhatsAppBlast, row.template), "deliveries": counts}


async def list_blasts(db: Database, status: BlastStatus | None, offset: int, limit: int) -> Page:
    where = [] if status is None else [WhatsAppBlast.status == status]
    async with db.session() as session:
        total = await session.scalar(select(func.count()).select_from(WhatsAppBlast).where(*where))
        rows = await session.execute(
            _blasts().where(*where).order_by(WhatsAppBlast.id.desc()).offset(offset).limit(limit)
        )
        items = [_blast(row.WhatsAppBlast, row.template) for row in rows]
    return Page(int(total or 0), offset, limit, items)


async def list_deliveries(db: Database, blast_id: int, status: MessageStatus | None, offset: int, limit: int) -> Page:
    where = [WhatsAppDelivery.blast_id == blast_id]
    if status is not None:
        where.append(WhatsAppDelivery.status == status)
    async with db.session() as session:
        if await session.get(WhatsAppBlast, blast_id) is None:
            raise BlastNotFound(f"no blast {blast_id}")
        total = await session.scalar(select(func.count()).select_from(WhatsAppDelivery).where(*where))
        rows = await session.scalars(
            select(WhatsAppDelivery).where(*where).order_by(WhatsAppDelivery.id).offset(offset).limit(limit)
        )
        items = [_delivery(d) for d in rows]
    return Page(int(total or 0), offset, limit, items)


async def list_templates(db: Database, status: TemplateStatus | None) -> list[dict[str, Any]]:
    """Every template (a WABA has at most a few hundred: not paged), by name and language."""
    query = select(WhatsAppTemplate).order_by(WhatsAppTemplate.name, WhatsAppTemplate.language)
    if status is not None:
        query = query.where(WhatsAppTemplate.status == status)
    async with db.session() as session:
        return [_template(t) for t in await session.scalars(query)]


def _blasts() -> Select[WhatsAppBlast, str]:
    return select(WhatsAppBlast, WhatsAppTemplate.name.label("template")).join(
        WhatsAppTemplate, WhatsAppTemplate.id == WhatsAppBlast.template_id
    )


def _blast(blast: WhatsAppBlast, template: str) -> dict[str, Any]:
    return {
        "id": blast.id,
        "name": blast.name,
        "template": template,
        "language": blast.language,
        "variables": list(blast.variables),
        "send_at": blast.send_at,
        "status": blast.status,
        "schedule_version": blast.schedule_version,
        "job_id": blast.job_id,
        "total_recipients": blast.total_recipients,
        "sent_count": blast.sent_count,
        "failed_count": blast.failed_count,
        "unknown_count": blast.unknown_count,
        "last_error": blast.last_error,
        "started_at": blast.started_at,
        "finished_at": blast.finished_at,
        "created_at": blast.created_at,
    }


def _delivery(delivery: WhatsAppDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "phone": delivery.phone,
        "status": delivery.status,
        "message_id": delivery.message_id,
        "error_code": delivery.error_code,
        "error_message": delivery.error_message,
        "attempts": delivery.attempts,
        "sent_at": delivery.sent_at,
    }


def _template(template: WhatsAppTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "status": template.status,
        "rejection_reason": template.rejection_reason,
        "body": template.body,
        "parameters": None if template.body is None else parameter_count(template.body),  # variables a blast gives
        "synced_at": template.synced_at,
    }
