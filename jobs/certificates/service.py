"""What the certificate API endpoints (seed 000) call: queue an event's work, report progress, recover.

Queueing is idempotent. Each job's id is derived from the participant (its ``uid``, unique beyond this database,
as Redis may outlive a database reset) and its certificate version, and the framework refuses an id that is
still taken (queued, running, or its result kept), so calling ``queue_event_certificates`` twice while the first
run is still going enqueues nothing the second time; the report says how many were duplicates. Participants
whose work is already done are not enqueued at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from queue_system import Client, FailedFilter, JobFunction, JobRequest, current_client

from ..db import Certificate, CertificateStatus, Database, DeliveryStatus, EmailDelivery, Event, Participant
from ..errors import AppError
from .delivery import new_delivery_row
from .generation import new_certificate_row
from .jobs import generate_certificate, send_certificate_email
from .storage import CertificateStorage

ENQUEUE_CHUNK = 500


class EventNotFound(AppError, LookupError):
    """No event with this id."""

    http_status = 404


@dataclass(frozen=True)
class QueueReport:
    """The answer of a generate-event / send-event call."""

    event_id: int
    queue: str
    total: int  # participants of the event
    queued: int  # jobs written now
    duplicates: int  # already queued or running (or finished within the result retention): not written again
    done: int  # already generated / accepted: nothing to do
    not_ready: int = 0  # emails whose certificate is not generated yet
    needs_attention: int = 0  # emails rejected (5xx) or of unknown outcome: a person decides

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EventProgress:
    """Where an event stands, from the database (the source of truth)."""

    event_id: int
    participants: int
    certificates_generated: int
    emails: dict[str, int]  # delivery status → count

    @property
    def emails_accepted(self) -> int:
        return self.emails.get(DeliveryStatus.ACCEPTED, 0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def generation_job_id(participant_uid: str, version: int) -> str:
    return f"certificate:{participant_uid}:v{version}"


def email_job_id(participant_uid: str, version: int) -> str:
    return f"certificate-email:{participant_uid}:v{version}"


async def queue_event_certificates(db: Database, event_id: int, *, client: Client | None = None) -> QueueReport:
    """Queue one ``generate_certificate`` job per participant whose current certificate is not generated, creating
    the pending certificate rows of those that have none."""
    async with db.session() as session, session.begin():
        await _require_event(session, event_id)
        rows = (
            await session.execute(
                select(Participant.id, Participant.uid, Participant.certificate_version, Certificate.status)
                .outerjoin(Certificate, _current_certificate())
                .where(Participant.event_id == event_id)
                .order_by(Participant.id)
            )
        ).all()
        todo = [(pid, uid, version) for pid, uid, version, status in rows if status != CertificateStatus.GENERATED]
        missing = [new_certificate_row(event_id, pid, version) for pid, _, version, status in rows if status is None]
        if missing:  # one statement here saves every job its insert and second read
            await session.execute(db.insert_ignoring(Certificate), missing)
    requests = [_request(generate_certificate, pid, generation_job_id(uid, v), event_id) for pid, uid, v in todo]
    written = await _enqueue(generate_certificate, requests, client)
    return QueueReport(
        event_id=event_id,
        queue=generate_certificate.spec.queue,
        total=len(rows),
        queued=written,
        duplicates=len(requests) - written,
        done=len(rows) - len(todo),
    )


async def queue_event_emails(
    db: Database, event_id: int, *, client: Client | None = None, sender: str | None = None
) -> QueueReport:
    """Queue one ``send_certificate_email`` job per participant whose generated certificate is not yet sent.

    With ``sender`` (the workers' ``MAIL_FROM``), the pending delivery rows are created here in one statement;
    otherwise each job creates its own.
    """
    async with db.session() as session, session.begin():
        await _require_event(session, event_id)
        rows = (
            await session.execute(
                select(
                    Participant.id,
                    Participant.uid,
                    Participant.certificate_version,
                    Participant.email,
                    Certificate.id,
                    Certificate.status,
                    EmailDelivery.status,
                )
                .outerjoin(Certificate, _current_certificate())
                .outerjoin(EmailDelivery, EmailDelivery.certificate_id == Certificate.id)
                .where(Participant.event_id == event_id)
                .order_by(Participant.id)
            )
        ).all()
        todo: list[tuple[int, str, int]] = []
        missing: list[dict[str, Any]] = []
        done = not_ready = attention = 0
        for pid, uid, version, email, certificate_id, certificate_status, delivery_status in rows:
            if certificate_status != CertificateStatus.GENERATED:
                not_ready += 1
            elif delivery_status == DeliveryStatus.ACCEPTED:
                done += 1
            elif delivery_status in (DeliveryStatus.REJECTED, DeliveryStatus.UNKNOWN):
                attention += 1
            else:
                todo.append((pid, uid, version))
                if delivery_status is None and sender is not None:
                    missing.append(new_delivery_row(certificate_id, pid, email, sender))
        if missing:
            await session.execute(db.insert_ignoring(EmailDelivery), missing)
    requests = [_request(send_certificate_email, pid, email_job_id(uid, v), event_id) for pid, uid, v in todo]
    written = await _enqueue(send_certificate_email, requests, client)
    return QueueReport(
        event_id=event_id,
        queue=send_certificate_email.spec.queue,
        total=len(rows),
        queued=written,
        duplicates=len(requests) - written,
        done=done,
        not_ready=not_ready,
        needs_attention=attention,
    )


async def event_progress(db: Database, event_id: int) -> EventProgress:
    """Three counts in one transaction, run in one hand-off (``Database.run_transaction``): the demo polls this
    five times a second while the worker it watches uses the same database."""

    def count(connection: Connection) -> EventProgress:
        if connection.execute(select(Event.id).where(Event.id == event_id)).first() is None:
            raise EventNotFound(f"event {event_id} does not exist")
        participants = connection.scalar(
            select(func.count()).select_from(Participant).where(Participant.event_id == event_id)
        )
        generated = connection.scalar(
            select(func.count())
            .select_from(Participant)
            .join(Certificate, _current_certificate())
            .where(Participant.event_id == event_id, Certificate.status == CertificateStatus.GENERATED)
        )
        emails = connection.execute(
            select(EmailDelivery.status, func.count())
            .join(Participant, EmailDelivery.participant_id == Participant.id)
            .join(Certificate, EmailDelivery.certificate_id == Certificate.id)
            .where(Participant.event_id == event_id, Certificate.version == Participant.certificate_version)
            .group_by(EmailDelivery.status)
        ).all()
        return EventProgress(event_id, participants or 0, generated or 0, {status: n for status, n in emails})

    return await db.run_transaction(count)


async def retry_failed_jobs(
    function: JobFunction[Any, Any], *, event_id: int | None = None, client: Client | None = None
) -> int:
    """Re-enqueue the failed jobs of ``function`` (of one event, if given) with fresh tries; returns how many."""
    client = client or await current_client()
    tags = {"event_id": str(event_id)} if event_id is not None else {}
    return await client.retry_failed_where(FailedFilter(function=function.name, tags=tags))


async def release_unknown_delivery(db: Database, participant_id: int) -> bool:
    """Allow resending an email whose outcome was lost, after a person checked it did not arrive.

    Returns False if the participant's current delivery is not in the "unknown" state.
    """
    async with db.session() as session, session.begin():
        certificate_ids = (
            select(Certificate.id)
            .join(Participant, Certificate.participant_id == Participant.id)
            .where(Participant.id == participant_id, Certificate.version == Participant.certificate_version)
            .scalar_subquery()
        )
        result = await session.execute(
            update(EmailDelivery)
            .where(EmailDelivery.certificate_id == certificate_ids, EmailDelivery.status == DeliveryStatus.UNKNOWN)
            .values(status=DeliveryStatus.PENDING, last_error="released for resending by an operator")
        )
    return bool(getattr(result, "rowcount", 0))


async def request_reissue(db: Database, participant_id: int) -> int:
    """Start a new certificate version (after correcting a name, say); returns the new version.

    The next generate and send calls make and email the new certificate; the old one stays on record.
    """
    async with db.session() as session, session.begin():
        participant = await session.get(Participant, participant_id, with_for_update=True)
        if participant is None:
            raise LookupError(f"participant {participant_id} does not exist")
        participant.certificate_version += 1
        return participant.certificate_version


async def delete_event(db: Database, storage: CertificateStorage, event_id: int) -> None:
    """Remove an event with its participants, certificates, deliveries (cascading) and files."""
    async with db.session() as session, session.begin():
        await session.execute(delete(Event).where(Event.id == event_id))
    storage.remove_event(event_id)


def _current_certificate() -> Any:
    return and_(Certificate.participant_id == Participant.id, Certificate.version == Participant.certificate_version)


async def _require_event(session: AsyncSession, event_id: int) -> None:
    if await session.get(Event, event_id) is None:
        raise EventNotFound(f"event {event_id} does not exist")


def _request(function: JobFunction[Any, Any], participant_id: int, job_id: str, event_id: int) -> JobRequest:
    return JobRequest(function.name, (participant_id,), job_id=job_id, tags={"event_id": event_id})


async def _enqueue(function: JobFunction[Any, Any], requests: list[JobRequest], client: Client | None) -> int:
    """Bulk-enqueue in chunks (one round trip each); returns how many were new (not duplicates)."""
    client = client or await current_client()
    client.register(function.name, function.spec.info)  # route by the declaration, no worker lookup needed
    written = 0
    for start in range(0, len(requests), ENQUEUE_CHUNK):
        jobs = await client.enqueue_many(requests[start : start + ENQUEUE_CHUNK])
        written += sum(not job.duplicate for job in jobs)
    return written
