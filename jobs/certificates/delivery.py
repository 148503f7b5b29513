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

from dataclasses import asdict, dataclass
from email.utils import parseaddr
from typing import Any, NoReturn

import structlog
from aiosmtplib import SMTP, SMTPException, SMTPResponseException, SMTPServerDisconnected
from sqlalchemy import Row, bindparam, update
from sqlalchemy.engine import Connection

from ..db import Certificate, CertificateStatus, Database, DeliveryStatus, EmailDelivery, Event, Participant
from ..db.batched_reads import BatchedReads
from ..db.batched_updates import BatchedUpdates
from ..db.types import utcnow
from ..errors import AppError
from .claims import DeliveryClaims
from .generation import (
    ParticipantNotFound,
    batch_of_one,
    current_certificate_query,
    many_participants,
    one_participant,
    participant_row,
)
from .message import CertificateEmail, build_message, new_message_id
from .render import format_date
from .smtp import SmtpPool, SmtpTransientError, is_permanent, send_data, server_answer
from .storage import CertificateStorage

log = structlog.stdlib.get_logger(__name__)
_TEXT_LIMIT = 1000


class CertificateNotReady(AppError):
    """The participant's current certificate is not generated yet; the email job retries until it is."""


class RecipientRejected(AppError):
    """The server refused the message for good (5xx); its answer is the message."""


class DeliveryOutcomeUnknown(AppError):
    """The message may have been delivered; it is not sent again without a person deciding so."""


class DeliveryBusy(AppError):
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
    file_path: str  # the certificate, relative to the storage directory


class CertificateMailer:
    def __init__(self, db: Database, storage: CertificateStorage, pool: SmtpPool, sender: str) -> None:
        self.db = db
        self.storage = storage
        self.pool = pool
        self.sender = sender
        self.sender_address = parseaddr(sender)[1]  # once: parsing it per email showed in the profile
        # read with concurrent jobs' rows
        self.rows = BatchedReads(db, one=_DELIVERY, many=_DELIVERIES, key_column="participant_id")
        self.claims = DeliveryClaims(db)  # claimed with concurrent jobs' deliveries
        self.marked_accepted = BatchedUpdates(db, _MARK_ACCEPTED)  # written with concurrent jobs' updates

    async def send(self, participant_id: int) -> DeliveryResult:
        prepared = await self._prepare(participant_id)
        if isinstance(prepared, DeliveryResult):
            return prepared
        # Here, not in a render process: writing the message takes ~0.2 ms, less than a round trip to the process
        # pool and back with the message; reading the PDF (~20 KB, just written, in the page cache) is a
        # single system call.
        data = build_message(prepared.mail, self.storage.read(prepared.file_path))
        async with self.pool.connection() as client:
            await self._envelope(client, prepared)
            await self._claim(prepared.delivery_id)
            reply = await self._data(client, prepared, data)
        await self.marked_accepted.write({"delivery": prepared.delivery_id, "at": utcnow(), "reply": reply})
        log.info("email.accepted", participant_id=participant_id, message_id=prepared.mail.message_id)
        return DeliveryResult(prepared.delivery_id, prepared.mail.message_id, DeliveryStatus.ACCEPTED, True, reply)

    async def _prepare(self, participant_id: int) -> _Prepared | DeliveryResult:
        """Load what the email needs and decide, from the ledger, whether sending is allowed: one read, batched
        with those of concurrent jobs (``BatchedReads``); a transaction of its own only when the ledger needs a
        write first (the delivery row is missing, or a try was interrupted during DATA)."""
        row = await self.rows.load(participant_id)
        if row is None:
            raise ParticipantNotFound(f"participant {participant_id} does not exist")
        self._require_certificate(row)
        if row.delivery_id is None or row.status == DeliveryStatus.SENDING:
            row = await self._record(participant_id)
        if row.status == DeliveryStatus.ACCEPTED:
            return DeliveryResult(row.delivery_id, row.message_id, row.status, False, row.server_reply)
        if row.status in (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN):
            raise DeliveryOutcomeUnknown(
                f"email {row.message_id} to {row.recipient} may have been delivered by an earlier "
                "try; not sending it again. Check the mail server's log for that Message-ID, then release "
                "the delivery to resend it"
            )
        mail = CertificateEmail(
            sender=self.sender,
            recipient_name=row.name,
            recipient_address=row.recipient,
            event_name=row.event_name,
            event_date_text=format_date(row.held_on),
            certificate_number=row.number,
            message_id=row.message_id,
        )
        return _Prepared(row.delivery_id, mail, row.file_path)

    async def _record(self, participant_id: int) -> Row[Any]:
        """In one transaction: insert the missing delivery row, or mark one left "sending" as "unknown"."""

        def record(connection: Connection) -> Row[Any]:
            row = participant_row(connection, _CURRENT_DELIVERY, participant_id)
            self._require_certificate(row)
            if row.delivery_id is None:
                new_row = new_delivery_row(row.certificate_id, row.participant_id, row.email, self.sender)
                connection.execute(self.db.insert_ignoring(EmailDelivery), new_row)
                row = participant_row(connection, _CURRENT_DELIVERY, participant_id)
            if row.status == DeliveryStatus.SENDING:
                connection.execute(
                    update(EmailDelivery)
                    .where(EmailDelivery.id == row.delivery_id)
                    .values(
                        status=DeliveryStatus.UNKNOWN,
                        last_error="a previous try was interrupted during DATA: the outcome is unknown",
                        updated_at=utcnow(),
                    )
                )
            return row

        return await self.db.run_transaction(record)

    def _require_certificate(self, row: Row[Any]) -> None:
        if row.certificate_status != CertificateStatus.GENERATED or not self.storage.exists(row.file_path):
            raise CertificateNotReady(f"participant {row.participant_id}'s certificate v{row.version} is not generated")

    async def _envelope(self, client: SMTP, prepared: _Prepared) -> None:
        """MAIL FROM and RCPT TO. Nothing can have been delivered if these fail."""
        try:
            try:
                await client.mail(self.sender_address)
            except SMTPServerDisconnected:  # the server closed the pooled connection while it was idle
                await self.pool.reconnect(client)
                await client.mail(self.sender_address)
            await client.rcpt(prepared.mail.recipient_address)
        except SMTPResponseException as exc:
            await self._refused(prepared, exc)
        except (SMTPException, OSError, TimeoutError) as exc:
            await self._update(prepared.delivery_id, last_error=_clip(f"{type(exc).__name__}: {exc}"))
            raise SmtpTransientError(f"SMTP connection failed before sending: {exc}") from exc

    async def _claim(self, delivery_id: int) -> None:
        """pending/rejected → sending, committed before DATA; only one try can win it (``DeliveryClaims``: in one
        statement with the claims of concurrent jobs)."""
        if not await self.claims.claim(delivery_id):
            raise DeliveryBusy(f"delivery {delivery_id} is being sent by another try")

    async def _data(self, client: SMTP, prepared: _Prepared, data: bytes) -> str:
        try:
            response = await send_data(client, data)
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
        statement = update(EmailDelivery).where(EmailDelivery.id == delivery_id).values(updated_at=utcnow(), **values)
        await self.db.run_transaction(lambda connection: connection.execute(statement))


def new_delivery_row(certificate_id: int, participant_id: int, recipient: str, sender: str) -> dict[str, Any]:
    """A pending delivery row for this certificate, with its Message-ID fixed before anything is sent. Inserted
    with ``insert_ignoring``: if a concurrent try (or the queueing of the event) inserted it first, this one is
    dropped."""
    return {
        "certificate_id": certificate_id,
        "participant_id": participant_id,
        "recipient": recipient,
        "message_id": new_message_id(sender),
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
    }


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


# Statements built once (building the expression per call was a tenth of an email's CPU in the worker).
_MARK_ACCEPTED = (
    update(EmailDelivery)
    .where(EmailDelivery.id == bindparam("delivery"))
    .values(
        status=DeliveryStatus.ACCEPTED,
        accepted_at=bindparam("at"),
        server_reply=bindparam("reply"),
        updated_at=bindparam("at"),
    )
)
# The participant, its event, its current certificate and that certificate's delivery, in one statement.
_DELIVERY_COLUMNS = current_certificate_query(
    Participant.id.label("participant_id"),
    Participant.name,
    Participant.email,
    Participant.certificate_version.label("version"),
    Event.name.label("event_name"),
    Event.held_on,
    Certificate.id.label("certificate_id"),
    Certificate.number,
    Certificate.status.label("certificate_status"),
    Certificate.file_path,
    EmailDelivery.id.label("delivery_id"),
    EmailDelivery.recipient,
    EmailDelivery.message_id,
    EmailDelivery.status,
    EmailDelivery.server_reply,
).outerjoin(EmailDelivery, EmailDelivery.certificate_id == Certificate.id)
_CURRENT_DELIVERY = one_participant(_DELIVERY_COLUMNS)
_DELIVERY = batch_of_one(_DELIVERY_COLUMNS)
_DELIVERIES = many_participants(_DELIVERY_COLUMNS)
