"""Emailing one participant's certificate, at most once per certificate version.

The delivery row is a small ledger around the one step whose outcome can be lost, the DATA command::

    pending ──MAIL, RCPT ok──► sending ──250──► accepted
       ▲                          │
       └── 4xx answer to DATA ────┤        (the server answered: it certainly did not take the message)
    rejected ◄── 5xx answer ──────┘
    unknown  ◄── no answer (connection dropped, timeout), or a later try finds the row still "sending"

"sending" is committed before DATA and "accepted" after it, so a worker that dies in between leaves
"sending" behind. The trade-off chosen is **at most once**: a try that finds "sending" (or "unknown") does not
send again, it marks the delivery "unknown" and fails permanently, with the Message-ID in the error, into the
failed store. A duplicate certificate email cannot be taken back; a missing one can be resent by a person
who checked the server's log for that Message-ID (``service.release_unknown_delivery``). The window is one
DATA command long, so this is rare; a 4xx or 5xx answer, or any failure before DATA, is known not to have
delivered anything and is retried (4xx) or failed (5xx) without that doubt.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

import structlog
from aiosmtplib import SMTP, SMTPException, SMTPResponseException, SMTPServerDisconnected
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Certificate, CertificateStatus, Database, DeliveryStatus, EmailDelivery, Participant
from ..db.types import utcnow
from .generation import load_participant
from .message import CertificateEmail, build_message, new_message_id
from .render import format_date
from .smtp import SmtpPool, SmtpTransientError, is_permanent, server_answer
from .storage import CertificateStorage

log = structlog.stdlib.get_logger(__name__)
_TEXT_LIMIT = 1000


class CertificateNotReady(Exception):
    """The participant's current certificate is not generated yet; the email job retries until it is."""


class RecipientRejected(Exception):
    """The server refused the message for good (5xx); its answer is the message."""


class DeliveryOutcomeUnknown(Exception):
    """The message may have been delivered; it is not sent again without a person deciding so."""


class DeliveryBusy(Exception):
    """Another try holds this delivery right now (only possible when the same job runs twice at once)."""


@dataclass(frozen=True)
class DeliveryResult:
    delivery_id: int
    message_id: str
    status: str
    sent: bool  # False when it had already been accepted before this try
    server_reply: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Prepared:
    delivery_id: int
    mail: CertificateEmail


class CertificateMailer:
    def __init__(self, db: Database, storage: CertificateStorage, pool: SmtpPool, sender: str) -> None:
        self.db = db
        self.storage = storage
        self.pool = pool
        self.sender = sender

    async def send(self, participant_id: int) -> DeliveryResult:
        prepared = await self._prepare(participant_id)
        if isinstance(prepared, DeliveryResult):
            return prepared
        data = build_message(prepared.mail)
        async with self.pool.connection() as client:
            await self._envelope(client, prepared)
            await self._claim(prepared.delivery_id)
            reply = await self._data(client, prepared, data)
        await self._update(
            prepared.delivery_id, status=DeliveryStatus.ACCEPTED, accepted_at=utcnow(), server_reply=reply
        )
        log.info("email.accepted", participant_id=participant_id, message_id=prepared.mail.message_id)
        return DeliveryResult(prepared.delivery_id, prepared.mail.message_id, DeliveryStatus.ACCEPTED, True, reply)

    async def _prepare(self, participant_id: int) -> _Prepared | DeliveryResult:
        """Load what the email needs and decide, from the ledger, whether sending is allowed."""
        async with self.db.session() as session:
            async with session.begin():
                participant, event = await load_participant(session, participant_id)
                certificate = await session.scalar(
                    select(Certificate).where(
                        Certificate.participant_id == participant.id,
                        Certificate.version == participant.certificate_version,
                    )
                )
                if (
                    certificate is None
                    or certificate.status != CertificateStatus.GENERATED
                    or not self.storage.exists(certificate.file_path)
                ):
                    version = participant.certificate_version
                    raise CertificateNotReady(f"participant {participant_id}'s certificate v{version} is not generated")
                delivery = await self._delivery_row(session, participant, certificate)
                status = delivery.status
                if status == DeliveryStatus.SENDING:
                    delivery.status = DeliveryStatus.UNKNOWN
                    delivery.last_error = "a previous try was interrupted during DATA: the outcome is unknown"
            if status == DeliveryStatus.ACCEPTED:
                return DeliveryResult(delivery.id, delivery.message_id, status, False, delivery.server_reply)
            if status in (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN):
                raise DeliveryOutcomeUnknown(
                    f"email {delivery.message_id} to {delivery.recipient} may have been delivered by an earlier "
                    "try; not sending it again. Check the mail server's log for that Message-ID, then release "
                    "the delivery to resend it"
                )
        assert certificate.file_path is not None  # checked by storage.exists above
        pdf = await asyncio.to_thread(self.storage.read, certificate.file_path)
        mail = CertificateEmail(
            sender=self.sender,
            recipient_name=participant.name,
            recipient_address=delivery.recipient,
            event_name=event.name,
            event_date_text=format_date(event.held_on),
            certificate_number=certificate.number,
            message_id=delivery.message_id,
            pdf=pdf,
        )
        return _Prepared(delivery.id, mail)

    async def _delivery_row(
        self, session: AsyncSession, participant: Participant, certificate: Certificate
    ) -> EmailDelivery:
        query = select(EmailDelivery).where(EmailDelivery.certificate_id == certificate.id)
        existing = await session.scalar(query)
        if existing is not None:
            return existing
        delivery = EmailDelivery(
            certificate_id=certificate.id,
            participant_id=participant.id,
            recipient=participant.email,
            message_id=new_message_id(self.sender),
            status=DeliveryStatus.PENDING,
            attempts=0,
        )
        try:
            async with session.begin_nested():
                session.add(delivery)
        except IntegrityError:
            winner = await session.scalar(query)
            if winner is None:
                raise
            return winner
        return delivery

    async def _envelope(self, client: SMTP, prepared: _Prepared) -> None:
        """MAIL FROM and RCPT TO. Nothing can have been delivered if these fail."""
        try:
            try:
                await client.mail(prepared.mail.sender_address)
            except SMTPServerDisconnected:  # the server closed the pooled connection while it was idle
                await self.pool.reconnect(client)
                await client.mail(prepared.mail.sender_address)
            await client.rcpt(prepared.mail.recipient_address)
        except SMTPResponseException as exc:
            await self._refused(prepared, exc)
        except (SMTPException, OSError, TimeoutError) as exc:
            await self._update(prepared.delivery_id, last_error=_clip(f"{type(exc).__name__}: {exc}"))
            raise SmtpTransientError(f"SMTP connection failed before sending: {exc}") from exc

    async def _claim(self, delivery_id: int) -> None:
        """pending/rejected → sending, committed before DATA; only one try can win it."""
        async with self.db.session() as session, session.begin():
            result = await session.execute(
                update(EmailDelivery)
                .where(
                    EmailDelivery.id == delivery_id,
                    EmailDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.REJECTED]),
                )
                .values(
                    status=DeliveryStatus.SENDING,
                    attempts=EmailDelivery.attempts + 1,
                    sending_started_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
        if getattr(result, "rowcount", 0) != 1:
            raise DeliveryBusy(f"delivery {delivery_id} is being sent by another try")

    async def _data(self, client: SMTP, prepared: _Prepared, data: bytes) -> str:
        try:
            response = await client.data(data)
        except SMTPResponseException as exc:  # an answer: the message was not taken
            await self._refused(prepared, exc)
        except (SMTPException, OSError, TimeoutError) as exc:  # no answer: it may or may not have been taken
            await self._update(
                prepared.delivery_id,
                status=DeliveryStatus.UNKNOWN,
                last_error=_clip(f"no answer to DATA ({type(exc).__name__}: {exc})"),
            )
            raise DeliveryOutcomeUnknown(
                f"the connection failed during DATA of {prepared.mail.message_id}; it may have been delivered, "
                "so it is not sent again automatically"
            ) from exc
        return _clip(f"{response.code} {response.message}")

    async def _refused(self, prepared: _Prepared, exc: SMTPResponseException) -> NoReturn:
        """Record a 4xx/5xx answer and raise what the job's retry policy should see."""
        answer = _clip(server_answer(exc))
        if is_permanent(exc):
            await self._update(prepared.delivery_id, status=DeliveryStatus.REJECTED, server_reply=answer)
            raise RecipientRejected(f"{prepared.mail.recipient_address}: {answer}") from exc
        await self._update(prepared.delivery_id, status=DeliveryStatus.PENDING, last_error=answer)
        raise SmtpTransientError(f"{prepared.mail.recipient_address}: {answer}") from exc

    async def _update(self, delivery_id: int, **values: Any) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(EmailDelivery).where(EmailDelivery.id == delivery_id).values(updated_at=utcnow(), **values)
            )


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"
