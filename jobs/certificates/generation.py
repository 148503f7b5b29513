"""Generating one participant's certificate: render, check, store, record — idempotently.

The database row comes first (its number and verification code must exist before the QR code can be drawn),
then the file is rendered and checked outside any transaction (a long transaction would hold SQLite's write
lock while the CPU works), then the row is marked generated. Running it again for the same participant and
certificate version finds the generated row and its file and does nothing; if the file went missing, or a
crash came between writing the file and recording it, the same file is simply written again.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Row, Select, and_, bindparam, select, update
from sqlalchemy.engine import Connection

from ..db import Certificate, CertificateStatus, Database, Event, Participant
from ..db.batched_reads import BatchedReads, key_parameter, keys_parameter
from ..db.batched_updates import BatchedUpdates
from ..db.types import utcnow
from ..errors import AppError
from .cpu_pool import CpuPool, produce_certificate
from .render import CertificateContent
from .storage import CertificateStorage

log = structlog.stdlib.get_logger(__name__)


class ParticipantNotFound(AppError, LookupError):
    """The participant (or its event) does not exist: there is nothing to generate or send."""

    http_status = 404


class LogoMissing(AppError, FileNotFoundError):
    """The event names a logo file that does not exist."""


@dataclass(frozen=True)
class GenerationResult:
    certificate_id: int
    number: str
    version: int
    file_path: str
    created: bool  # False when the certificate was already generated and its file present

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def certificate_number(event_id: int, participant_id: int, version: int) -> str:
    """Stable for a participant and version, so a re-run writes the same number (and the same file name)."""
    return f"E{event_id}-{participant_id:06d}-{version}"


class CertificateGenerator:
    def __init__(self, db: Database, storage: CertificateStorage, pool: CpuPool, verify_url: str) -> None:
        self.db = db
        self.storage = storage
        self.pool = pool
        self.verify_url = verify_url.rstrip("/")
        # read with concurrent jobs' rows
        self.rows = BatchedReads(db, one=_CERTIFICATE, many=_CERTIFICATES, key_column="participant_id")
        self.marked_generated = BatchedUpdates(db, _MARK_GENERATED)  # written with concurrent jobs' updates

    async def generate(self, participant_id: int) -> GenerationResult:
        """One read (batched with those of concurrent jobs: ``BatchedReads``; a transaction of its own to create
        the certificate row if queueing did not), the render, one update (batched too: ``BatchedUpdates``).

        Core statements, not the ORM: a job runs three, and the ORM's unit of work cost more than they do.
        """
        row = await self.rows.load(participant_id)
        if row is None:
            raise ParticipantNotFound(f"participant {participant_id} does not exist")
        if row.certificate_id is None:
            row = await self._create_row(participant_id)
        relative = self.storage.relative_path(row.event_id, row.number)
        done = GenerationResult(row.certificate_id, row.number, row.version, relative, False)
        if row.status == CertificateStatus.GENERATED and self.storage.exists(row.file_path):
            return done
        digest, size = await self.pool.run(produce_certificate, self._content(row), self.storage.root, relative)
        await self.marked_generated.write(
            {"certificate": row.certificate_id, "path": relative, "digest": digest, "size": size, "at": utcnow()}
        )
        log.info("certificate.generated", participant_id=participant_id, number=row.number, bytes=size)
        return GenerationResult(row.certificate_id, row.number, row.version, relative, True)

    async def _create_row(self, participant_id: int) -> Row[Any]:
        """Insert the pending certificate row (unless a concurrent try did) and read it back, in one transaction."""

        def create(connection: Connection) -> Row[Any]:
            row = participant_row(connection, _CURRENT_CERTIFICATE, participant_id)
            if row.certificate_id is None:
                new_row = new_certificate_row(row.event_id, row.participant_id, row.version)
                connection.execute(self.db.insert_ignoring(Certificate), new_row)
                row = participant_row(connection, _CURRENT_CERTIFICATE, participant_id)
            return row

        return await self.db.run_transaction(create)

    def _content(self, row: Row[Any]) -> CertificateContent:
        logo = Path(row.logo_path) if row.logo_path else None
        if logo is not None and not logo.is_file():
            raise LogoMissing(f"event {row.event_id}'s logo {logo} does not exist")
        return CertificateContent(
            title=row.certificate_title,
            participant_name=row.name,
            event_name=row.event_name,
            event_date=row.held_on,
            number=row.number,
            verify_url=f"{self.verify_url}/{row.verification_code}",
            logo=logo,
        )


def current_certificate_query(*columns: Any) -> Select[Any]:
    """``columns`` of participants joined with their event and their current certificate (outer: the certificate
    row may not exist yet); one statement instead of the ORM loading each object. Built once, then narrowed with
    ``one_participant`` (for ``participant_row``) or ``many_participants`` (for ``BatchedReads``)."""
    return (
        select(*columns)
        .join(Event, Participant.event_id == Event.id)
        .outerjoin(
            Certificate,
            and_(Certificate.participant_id == Participant.id, Certificate.version == Participant.certificate_version),
        )
    )


def one_participant(query: Select[Any]) -> Select[Any]:
    """For ``participant_row`` (the id bound as ``participant``)."""
    return query.where(Participant.id == bindparam("participant"))


def batch_of_one(query: Select[Any]) -> Select[Any]:
    """For ``BatchedReads`` serving a single job."""
    return query.where(Participant.id == key_parameter())


def many_participants(query: Select[Any]) -> Select[Any]:
    """For ``BatchedReads`` serving several jobs."""
    return query.where(Participant.id.in_(keys_parameter()))


def participant_row(connection: Connection, query: Select[Any], participant_id: int) -> Row[Any]:
    """The one row of ``query`` for this participant; :class:`ParticipantNotFound` if there is none (inside a
    ``Database.run_transaction``)."""
    result = connection.execute(query, {"participant": participant_id})
    row = result.one_or_none()
    if row is None:
        raise ParticipantNotFound(f"participant {participant_id} does not exist")
    return row


_MARK_GENERATED = (
    update(Certificate)
    .where(Certificate.id == bindparam("certificate"))
    .values(
        status=CertificateStatus.GENERATED,
        file_path=bindparam("path"),
        sha256=bindparam("digest"),
        size_bytes=bindparam("size"),
        generated_at=bindparam("at"),
    )
)
_CERTIFICATE_COLUMNS = current_certificate_query(
    Participant.id.label("participant_id"),
    Participant.name,
    Participant.certificate_version.label("version"),
    Event.id.label("event_id"),
    Event.name.label("event_name"),
    Event.held_on,
    Event.certificate_title,
    Event.logo_path,
    Certificate.id.label("certificate_id"),
    Certificate.number,
    Certificate.verification_code,
    Certificate.status,
    Certificate.file_path,
)
_CURRENT_CERTIFICATE = one_participant(_CERTIFICATE_COLUMNS)
_CERTIFICATE = batch_of_one(_CERTIFICATE_COLUMNS)
_CERTIFICATES = many_participants(_CERTIFICATE_COLUMNS)


def new_certificate_row(event_id: int, participant_id: int, version: int) -> dict[str, Any]:
    """A pending certificate row for the participant's ``version``: its number and verification code, which must
    exist before the QR code can be drawn. Inserted with ``insert_ignoring``: if a concurrent run (or the
    queueing of the event) inserted it first, this one is dropped and everyone reads the first one's code."""
    return {
        "participant_id": participant_id,
        "version": version,
        "number": certificate_number(event_id, participant_id, version),
        "verification_code": secrets.token_hex(8),
        "status": CertificateStatus.PENDING,
    }
