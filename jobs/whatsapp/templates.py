"""Template sync: SUBMITTED templates are checked against the Cloud API and moved to APPROVED or REJECTED.

Meta reviews a template after it is submitted; the verdict is only visible by asking
(``GET /{version}/{waba-id}/message_templates``). The API's own statuses map onto ours as::

    APPROVED                                  → APPROVED
    REJECTED, DISABLED                         → REJECTED (with Meta's ``rejected_reason``, or the status)
    PENDING, IN_APPEAL, anything else          → stays SUBMITTED (asked again next sync)
    not listed by the API at all               → stays SUBMITTED, reported as ``missing``

One request per page of the WABA's templates, not one per template: a WABA has at most a few hundred.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from sqlalchemy import select

from ..db import Database
from ..db.types import utcnow
from ..db.whatsapp import TemplateStatus, WhatsAppTemplate
from .client import CloudApiClient, RemoteTemplate

log = structlog.stdlib.get_logger(__name__)
_REJECTED = frozenset({"REJECTED", "DISABLED"})


@dataclass
class SyncReport:
    checked: int = 0
    approved: list[str] = field(default_factory=list)  # "name/language"
    rejected: list[str] = field(default_factory=list)
    still_submitted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def sync_templates(db: Database, api: CloudApiClient) -> SyncReport:
    """Ask the API about every SUBMITTED template and record the verdicts (idempotent)."""
    report = SyncReport()
    async with db.session() as session:
        submitted = list(
            await session.scalars(
                select(WhatsAppTemplate.id).where(WhatsAppTemplate.status == TemplateStatus.SUBMITTED)
            )
        )
    if not submitted:
        return report
    remote = {(t.name, t.language): t for t in await api.list_templates()}
    now = utcnow()
    async with db.session() as session, session.begin():
        templates = await session.scalars(
            select(WhatsAppTemplate)
            .where(WhatsAppTemplate.id.in_(submitted), WhatsAppTemplate.status == TemplateStatus.SUBMITTED)
            .with_for_update()
        )
        for template in templates:
            report.checked += 1
            _apply(template, remote.get((template.name, template.language)), report)
            template.synced_at = now
    log.info(
        "whatsapp.templates_synced",
        checked=report.checked,
        approved=len(report.approved),
        rejected=len(report.rejected),
        missing=len(report.missing),
    )
    return report


def _apply(template: WhatsAppTemplate, remote: RemoteTemplate | None, report: SyncReport) -> None:
    key = f"{template.name}/{template.language}"
    if remote is None:
        report.missing.append(key)
        return
    template.external_id = remote.id or template.external_id
    if remote.status == "APPROVED":
        template.status, template.rejection_reason = TemplateStatus.APPROVED, None
        report.approved.append(key)
    elif remote.status in _REJECTED:
        template.status = TemplateStatus.REJECTED
        template.rejection_reason = (remote.rejected_reason or remote.status)[:1000]
        report.rejected.append(key)
    else:
        report.still_submitted.append(key)
