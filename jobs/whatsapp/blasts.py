"""Creating, rescheduling and cancelling blasts: what the API endpoints of seed 004 call.

The database is written first and is the truth; the queue is told afterwards through ``BlastScheduler``
(``jobs.QueueBlastScheduler``: the framework's deferred jobs with ``QueueAPI.reschedule`` / ``cancel``).

Moving a scheduled blast moves its deferred job (same id, same version): the framework's reschedule is atomic
against a worker claiming the job, so the old time never runs. Only when the job cannot be moved (it already
started, or it is gone) is ``schedule_version`` bumped and a new job queued. Cancelling (and going back to
DRAFT) bumps the version too, and the send job carries the version it was queued for, so a job that escaped
cannot send an old schedule. Besides, a run that starts before the blast's ``send_at`` does nothing (the
sender's "not due yet"), which closes the gap between committing a new time and moving the job. A blast
SCHEDULED in the database whose job is lost (Redis flushed in an outage) is found by ``due_blast_jobs`` at
start-up (recovery.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..db.types import utcnow
from ..db.whatsapp import (
    BlastStatus,
    MessageStatus,
    TemplateStatus,
    WhatsAppBlast,
    WhatsAppDelivery,
    WhatsAppRecipient,
    WhatsAppTemplate,
)
from .errors import BlastNotEditable, BlastNotFound, NoValidRecipients, TemplateNotApproved, TemplateNotFound
from .phones import RejectedNumber, validate_numbers
from .templates import check_variables

EDITABLE = (BlastStatus.DRAFT, BlastStatus.SCHEDULED)
INSERT_CHUNK = 1000


class BlastScheduler(Protocol):
    """Puts a blast's send job on the queue for its send time, and takes it off again."""

    async def schedule(self, blast_id: int, blast_uid: str, version: int, send_at: datetime) -> str:
        """Defer one send job of (blast, version) to ``send_at``; returns its job id."""

    async def move(self, job_id: str, send_at: datetime) -> bool:
        """Move a deferred job to ``send_at``; False when it cannot be moved (it started, ended, or is gone)."""

    async def unschedule(self, job_id: str) -> None:
        """Remove a deferred job if it is still waiting (a job already running is stopped by the version)."""


@dataclass(frozen=True)
class BlastDraft:
    name: str
    template_name: str
    language: str
    recipients: Sequence[str]
    variables: Sequence[str] = ()
    send_at: datetime | None = None
    default_region: str | None = None  # how to read numbers written without +country code (e.g. "ID")


@dataclass(frozen=True)
class BlastCreated:
    blast_id: int
    status: str
    total_recipients: int
    rejected: list[RejectedNumber] = field(default_factory=list)
    duplicates: int = 0
    job_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DueBlast:
    blast_id: int
    uid: str
    version: int
    status: str


def blast_job_id(blast_uid: str, version: int) -> str:
    return f"whatsapp-blast:{blast_uid}:v{version}"


async def create_blast(db: Database, draft: BlastDraft, scheduler: BlastScheduler | None = None) -> BlastCreated:
    """Validate the template and the numbers, store the blast with its recipients, and schedule it if timed.

    Invalid numbers are left out and reported with their reasons; a blast with no valid number is refused, and
    so are variables that do not fill the template's body parameters one for one.
    """
    numbers = validate_numbers(draft.recipients, draft.default_region)
    if not numbers.valid:
        reasons = "; ".join(f"{r.input!r}: {r.reason}" for r in numbers.rejected[:20]) or "no numbers given"
        raise NoValidRecipients(f"no valid recipient among {len(draft.recipients)}: {reasons}")
    async with db.session() as session, session.begin():
        template = await _approved_template(session, draft.template_name, draft.language)
        check_variables(template, draft.variables)
        blast = WhatsAppBlast(
            name=draft.name,
            template_id=template.id,
            language=template.language,
            variables=[str(v) for v in draft.variables],
            send_at=_aware(draft.send_at),
            status=BlastStatus.SCHEDULED if draft.send_at else BlastStatus.DRAFT,
            schedule_version=1 if draft.send_at else 0,
            total_recipients=len(numbers.valid),
        )
        session.add(blast)
        await session.flush()
        await _add_recipients(session, blast.id, numbers.valid)
        blast_id, uid, version = blast.id, blast.uid, blast.schedule_version
    job_id = await _tell_scheduler(db, scheduler, blast_id, uid, version, draft.send_at, old_job=None)
    status = BlastStatus.SCHEDULED if draft.send_at else BlastStatus.DRAFT
    return BlastCreated(blast_id, status, len(numbers.valid), numbers.rejected, numbers.duplicates, job_id)


async def reschedule_blast(
    db: Database, blast_id: int, send_at: datetime | None, scheduler: BlastScheduler | None = None
) -> int:
    """Move a blast's send time (``None``: back to DRAFT); the old time never sends. Returns its version."""
    async with db.session() as session, session.begin():
        blast = await _editable(session, blast_id)
        if send_at is not None:
            await _approved_template_by_id(session, blast.template_id)
        old_job = blast.job_id
        movable = scheduler is not None and bool(old_job) and send_at is not None
        movable = movable and blast.status == BlastStatus.SCHEDULED
        if not movable:
            blast.job_id = None
            blast.schedule_version += 1
        blast.send_at = _aware(send_at)
        blast.status = BlastStatus.SCHEDULED if send_at else BlastStatus.DRAFT
        uid, version = blast.uid, blast.schedule_version
    if movable:
        assert scheduler is not None and old_job and send_at is not None
        if await scheduler.move(old_job, send_at):
            return version
        moved_on = await _next_version(db, blast_id, version)
        if moved_on is None:  # the old job started meanwhile, at the new time: it is the blast's run
            return version
        version, old_job = moved_on, None
    await _tell_scheduler(db, scheduler, blast_id, uid, version, send_at, old_job=old_job)
    return version


async def _next_version(db: Database, blast_id: int, version: int) -> int | None:
    """A new version for a blast whose job could not be moved; None if it is no longer SCHEDULED at ``version``."""
    async with db.session() as session, session.begin():
        result = await session.execute(
            update(WhatsAppBlast)
            .where(
                WhatsAppBlast.id == blast_id,
                WhatsAppBlast.schedule_version == version,
                WhatsAppBlast.status == BlastStatus.SCHEDULED,
            )
            .values(schedule_version=version + 1, job_id=None, updated_at=utcnow())
        )
    return version + 1 if getattr(result, "rowcount", 0) else None


async def update_blast(
    db: Database, blast_id: int, *, name: str | None = None, variables: Sequence[str] | None = None
) -> None:
    """Change a DRAFT or SCHEDULED blast's name or template variables (its time: ``reschedule_blast``)."""
    async with db.session() as session, session.begin():
        blast = await _editable(session, blast_id)
        if variables is not None:
            await _check_blast_variables(session, blast, variables)
            blast.variables = [str(v) for v in variables]
        if name is not None:
            blast.name = name


async def check_blast_variables(db: Database, blast_id: int, variables: Sequence[str]) -> None:
    """Refuse, before changing anything, variables that ``update_blast`` would refuse (an endpoint changing
    several things at once checks first, so a refusal leaves the blast as it was)."""
    async with db.session() as session:
        await _check_blast_variables(session, await _editable(session, blast_id), variables)


async def _check_blast_variables(session: AsyncSession, blast: WhatsAppBlast, variables: Sequence[str]) -> None:
    template = await session.get(WhatsAppTemplate, blast.template_id)
    if template is None:
        raise TemplateNotFound(f"no template {blast.template_id}")
    check_variables(template, variables)


async def cancel_blast(db: Database, blast_id: int, scheduler: BlastScheduler | None = None) -> None:
    """Cancel a DRAFT or SCHEDULED blast; its job, if it still fires, finds a newer version and does nothing."""
    async with db.session() as session, session.begin():
        blast = await _editable(session, blast_id)
        old_job, blast.job_id = blast.job_id, None
        blast.schedule_version += 1
        blast.status = BlastStatus.CANCELLED
        blast.finished_at = utcnow()
    if scheduler is not None and old_job:
        await scheduler.unschedule(old_job)


async def fail_blast(db: Database, blast_id: int, reason: str) -> None:
    """Mark a blast FAILED (the send job used its last try); deliveries keep their own statuses."""
    async with db.session() as session, session.begin():
        await session.execute(
            update(WhatsAppBlast)
            .where(WhatsAppBlast.id == blast_id, WhatsAppBlast.status.in_([BlastStatus.PROCESSING, *EDITABLE]))
            .values(status=BlastStatus.FAILED, last_error=reason[:1000], finished_at=utcnow(), updated_at=utcnow())
        )


async def release_unknown_deliveries(db: Database, blast_id: int) -> int:
    """After a person checked (e.g. in the status webhooks) that "unknown" messages did not arrive: make them
    sendable again. A finished blast goes back to PROCESSING, so the next run (or the start-up recovery) sends
    them. Returns how many were released."""
    async with db.session() as session, session.begin():
        result = await session.execute(
            update(WhatsAppDelivery)
            .where(WhatsAppDelivery.blast_id == blast_id, WhatsAppDelivery.status == MessageStatus.UNKNOWN)
            .values(status=MessageStatus.PENDING, updated_at=utcnow())
        )
        released = int(getattr(result, "rowcount", 0))
        if released:
            await session.execute(
                update(WhatsAppBlast)
                .where(
                    WhatsAppBlast.id == blast_id,
                    WhatsAppBlast.status.in_([BlastStatus.COMPLETED, BlastStatus.FAILED]),
                )
                .values(status=BlastStatus.PROCESSING, finished_at=None, last_error=None, updated_at=utcnow())
            )
    return released


async def due_blasts(db: Database, now: datetime | None = None) -> list[tuple[int, int]]:
    """(blast id, version) of every blast that should be running now: SCHEDULED and due, or PROCESSING (its run
    died). What the start-up recovery hook sends; the version makes a second sender of the same blast a no-op."""
    return [(due.blast_id, due.version) for due in await due_blast_jobs(db, now)]


async def due_blast_jobs(db: Database, now: datetime | None = None) -> list[DueBlast]:
    """``due_blasts`` with what the recovery needs to rebuild each blast's job id (its uid and status)."""
    moment = now or utcnow()
    async with db.session() as session:
        rows = await session.execute(
            select(WhatsAppBlast.id, WhatsAppBlast.uid, WhatsAppBlast.schedule_version, WhatsAppBlast.status)
            .where(
                (WhatsAppBlast.status == BlastStatus.PROCESSING)
                | ((WhatsAppBlast.status == BlastStatus.SCHEDULED) & (WhatsAppBlast.send_at <= moment))
            )
            .order_by(WhatsAppBlast.send_at, WhatsAppBlast.id)
        )
        return [DueBlast(r.id, r.uid, r.schedule_version, str(r.status)) for r in rows]


async def delivery_counts(db: Database, blast_id: int) -> dict[str, int]:
    """Delivery status → count for one blast, from the ledger."""
    async with db.session() as session:
        rows = await session.execute(
            select(WhatsAppDelivery.status, func.count())
            .where(WhatsAppDelivery.blast_id == blast_id)
            .group_by(WhatsAppDelivery.status)
        )
        return {str(status): int(count) for status, count in rows}


async def _tell_scheduler(
    db: Database,
    scheduler: BlastScheduler | None,
    blast_id: int,
    uid: str,
    version: int,
    send_at: datetime | None,
    *,
    old_job: str | None,
) -> str | None:
    if scheduler is None:
        return None
    if old_job:
        await scheduler.unschedule(old_job)
    if send_at is None:
        return None
    job_id = await scheduler.schedule(blast_id, uid, version, _aware(send_at) or send_at)
    async with db.session() as session, session.begin():
        await session.execute(
            update(WhatsAppBlast)
            .where(WhatsAppBlast.id == blast_id, WhatsAppBlast.schedule_version == version)
            .values(job_id=job_id)
        )
    return job_id


async def _add_recipients(session: AsyncSession, blast_id: int, numbers: list[str]) -> None:
    """Recipients and their (pending) deliveries, in bulk: a delivery row exists for every recipient from the
    start, so "not yet sent" is a plain status query and the ledger is complete before anything is sent."""
    for start in range(0, len(numbers), INSERT_CHUNK):
        chunk = numbers[start : start + INSERT_CHUNK]
        now = utcnow()
        await session.execute(
            insert(WhatsAppRecipient), [{"blast_id": blast_id, "phone": p, "created_at": now} for p in chunk]
        )
    rows = await session.execute(
        select(WhatsAppRecipient.id, WhatsAppRecipient.phone).where(WhatsAppRecipient.blast_id == blast_id)
    )
    deliveries = [
        {"blast_id": blast_id, "recipient_id": rid, "phone": phone, "status": MessageStatus.PENDING, "attempts": 0}
        for rid, phone in rows
    ]
    for start in range(0, len(deliveries), INSERT_CHUNK):
        await session.execute(insert(WhatsAppDelivery), deliveries[start : start + INSERT_CHUNK])


async def _approved_template(session: AsyncSession, name: str, language: str) -> WhatsAppTemplate:
    template = await session.scalar(
        select(WhatsAppTemplate).where(WhatsAppTemplate.name == name, WhatsAppTemplate.language == language)
    )
    if template is None:
        raise TemplateNotFound(f"no template {name!r} in language {language!r}")
    return _require_approved(template)


async def _approved_template_by_id(session: AsyncSession, template_id: int) -> WhatsAppTemplate:
    template = await session.get(WhatsAppTemplate, template_id)
    if template is None:
        raise TemplateNotFound(f"no template {template_id}")
    return _require_approved(template)


def _require_approved(template: WhatsAppTemplate) -> WhatsAppTemplate:
    if template.status != TemplateStatus.APPROVED:
        why = f": {template.rejection_reason}" if template.rejection_reason else ""
        raise TemplateNotApproved(
            f"template {template.name!r} ({template.language}) is {template.status}{why}; only APPROVED templates "
            "can be scheduled"
        )
    return template


async def _editable(session: AsyncSession, blast_id: int) -> WhatsAppBlast:
    blast = await session.get(WhatsAppBlast, blast_id, with_for_update=True)
    if blast is None:
        raise BlastNotFound(f"no blast {blast_id}")
    if blast.status not in EDITABLE:
        raise BlastNotEditable(f"blast {blast_id} is {blast.status}: only DRAFT or SCHEDULED blasts can be changed")
    return blast


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError("send_at must be timezone-aware (e.g. datetime.now(UTC) + ...)")
    return moment
