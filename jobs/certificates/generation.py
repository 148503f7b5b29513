"""Generating one participant's certificate: render, check, store, record — idempotently.

The database row comes first (its number and verification code must exist before the QR code can be drawn),
then the file is rendered and checked outside any transaction (a long transaction would hold SQLite's write
lock while the CPU works), then the row is marked generated. Running it again for the same participant and
certificate version finds the generated row and its file and does nothing; if the file went missing, or a
crash came between writing the file and recording it, the same file is simply written again.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Certificate, CertificateStatus, Database, Event, Participant
from ..db.types import utcnow
from .fonts import CertificateFont
from .render import CertificateContent, render_certificate
from .storage import CertificateStorage
from .verify import check_certificate

log = structlog.stdlib.get_logger(__name__)


class ParticipantNotFound(LookupError):
    """The participant (or its event) does not exist: there is nothing to generate or send."""


class LogoMissing(FileNotFoundError):
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
    def __init__(self, db: Database, storage: CertificateStorage, font: CertificateFont, verify_url: str) -> None:
        self.db = db
        self.storage = storage
        self.font = font
        self.verify_url = verify_url.rstrip("/")

    async def generate(self, participant_id: int) -> GenerationResult:
        async with self.db.session() as session:
            async with session.begin():
                participant, event = await load_participant(session, participant_id)
                certificate = await _certificate_row(session, participant, event.id)
                relative = self.storage.relative_path(event.id, certificate.number)
                done = GenerationResult(certificate.id, certificate.number, certificate.version, relative, False)
                if certificate.status == CertificateStatus.GENERATED and self.storage.exists(certificate.file_path):
                    return done
                content = self._content(participant, event, certificate)
            digest, size = await asyncio.to_thread(self._produce, content, relative)
            async with session.begin():
                await session.execute(
                    update(Certificate)
                    .where(Certificate.id == certificate.id)
                    .values(
                        status=CertificateStatus.GENERATED,
                        file_path=relative,
                        sha256=digest,
                        size_bytes=size,
                        generated_at=utcnow(),
                    )
                )
        log.info("certificate.generated", participant_id=participant_id, number=certificate.number, bytes=size)
        return GenerationResult(certificate.id, certificate.number, certificate.version, relative, True)

    def _content(self, participant: Participant, event: Event, certificate: Certificate) -> CertificateContent:
        logo = Path(event.logo_path) if event.logo_path else None
        if logo is not None and not logo.is_file():
            raise LogoMissing(f"event {event.id}'s logo {logo} does not exist")
        return CertificateContent(
            title=event.certificate_title,
            participant_name=participant.name,
            event_name=event.name,
            event_date=event.held_on,
            number=certificate.number,
            verify_url=f"{self.verify_url}/{certificate.verification_code}",
            logo=logo,
        )

    def _produce(self, content: CertificateContent, relative: str) -> tuple[str, int]:
        """Render, read back, write atomically (runs in a thread: it is CPU and disk work)."""
        pdf = render_certificate(content, self.font)
        check_certificate(pdf, expected_name=content.participant_name)
        self.storage.write(relative, pdf)
        return hashlib.sha256(pdf).hexdigest(), len(pdf)


async def load_participant(session: AsyncSession, participant_id: int) -> tuple[Participant, Event]:
    row = (
        await session.execute(
            select(Participant, Event)
            .join(Event, Participant.event_id == Event.id)
            .where(Participant.id == participant_id)
        )
    ).one_or_none()
    if row is None:
        raise ParticipantNotFound(f"participant {participant_id} does not exist")
    return row[0], row[1]


async def _certificate_row(session: AsyncSession, participant: Participant, event_id: int) -> Certificate:
    """The certificate row for the participant's current version, created on first use."""
    version = participant.certificate_version
    query = select(Certificate).where(Certificate.participant_id == participant.id, Certificate.version == version)
    existing = await session.scalar(query)
    if existing is not None:
        return existing
    certificate = Certificate(
        participant_id=participant.id,
        version=version,
        number=certificate_number(event_id, participant.id, version),
        verification_code=secrets.token_hex(8),
        status=CertificateStatus.PENDING,
    )
    try:
        async with session.begin_nested():
            session.add(certificate)
    except IntegrityError:  # a concurrent run inserted it first (PostgreSQL; SQLite serializes writers)
        winner = await session.scalar(query)
        if winner is None:
            raise
        return winner
    return certificate
