"""Template sync: SUBMITTED templates are checked against the Cloud API and moved to APPROVED or REJECTED.

Meta reviews a template after it is submitted; the verdict is only visible by asking
(``GET /{version}/{waba-id}/message_templates``). The API's own statuses map onto ours as::

    APPROVED                                  → APPROVED
    REJECTED, DISABLED                         → REJECTED (with Meta's ``rejected_reason``, or the status)
    PENDING, IN_APPEAL, anything else          → stays SUBMITTED (asked again next sync)
    not listed by the API at all               → stays SUBMITTED, reported as ``missing``

Every template the sync looks at also gets its BODY text recorded (and a template without one, e.g. approved
before bodies were kept, is looked at for that alone): a blast's variables must match the body's {{1}}, {{2}} …
parameters (``check_variables``), which the Cloud API would otherwise refuse message by message (code 132000).

One request per page of the WABA's templates, not one per template: a WABA has at most a few hundred.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from sqlalchemy import select

from ..db import Database
from ..db.types import utcnow
from ..db.whatsapp import TemplateStatus, WhatsAppTemplate
from .client import CloudApiClient, RemoteTemplate
from .errors import TemplateVariablesMismatch

log = structlog.stdlib.get_logger(__name__)
_REJECTED = frozenset({"REJECTED", "DISABLED"})
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


@dataclass
class SyncReport:
    checked: int = 0
    approved: list[str] = field(default_factory=list)  # "name/language"
    rejected: list[str] = field(default_factory=list)
    still_submitted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    bodies: int = 0  # templates whose body text was recorded or changed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def sync_templates(db: Database, api: CloudApiClient) -> SyncReport:
    """Ask the API about every SUBMITTED template (and every one without a body) and record what it says
    (idempotent)."""
    report = SyncReport()
    wanted = (WhatsAppTemplate.status == TemplateStatus.SUBMITTED) | WhatsAppTemplate.body.is_(None)
    async with db.session() as session:
        asked = list(await session.scalars(select(WhatsAppTemplate.id).where(wanted)))
    if not asked:
        return report
    remote = {(t.name, t.language): t for t in await api.list_templates()}
    now = utcnow()
    async with db.session() as session, session.begin():
        templates = await session.scalars(
            select(WhatsAppTemplate).where(WhatsAppTemplate.id.in_(asked), wanted).with_for_update()
        )
        for template in templates:
            found = remote.get((template.name, template.language))
            report.bodies += _record_body(template, found)
            if template.status == TemplateStatus.SUBMITTED:
                report.checked += 1
                _apply(template, found, report)
            template.synced_at = now
    log.info(
        "whatsapp.templates_synced",
        checked=report.checked,
        approved=len(report.approved),
        rejected=len(report.rejected),
        missing=len(report.missing),
        bodies=report.bodies,
    )
    return report


def parameter_count(body: str) -> int:
    """How many body parameters a template takes: its highest {{n}} (Meta numbers them 1, 2, … without gaps)."""
    return max((int(n) for n in _PLACEHOLDER.findall(body)), default=0)


def check_variables(template: WhatsAppTemplate, variables: Sequence[str]) -> None:
    """Refuse variables that do not fill the template's body parameters one for one. A template whose body is
    not known yet (not synced) is not checked here; the API's own refusal (132000) then fails the blast."""
    if template.body is None:
        return
    wanted = parameter_count(template.body)
    if len(variables) != wanted:
        raise TemplateVariablesMismatch(
            f"template {template.name!r} ({template.language}) takes {wanted} variable(s) "
            f"({{{{1}}}} … in its body), {len(variables)} given"
        )


def _record_body(template: WhatsAppTemplate, remote: RemoteTemplate | None) -> int:
    if remote is None or remote.body is None or remote.body == template.body:
        return 0
    template.body = remote.body
    return 1


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
