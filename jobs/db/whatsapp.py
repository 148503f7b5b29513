"""The WhatsApp blast tables (seed 004): templates, blasts, their recipients and one delivery per recipient.

The database is the truth about a blast: its send time and status decide whether a job that fires should send
(``schedule_version`` is bumped by every reschedule or cancel, and a job carries the version it was queued for,
so a stale job finds a newer version and does nothing), and the deliveries decide whom it still has to message.

"Never message a recipient twice for the same blast" is a constraint, not a habit: recipients are unique per
(blast, E.164 number), and a delivery is unique per recipient and per (blast, number). A send is only made for a
delivery that a transaction moved from ``pending`` to ``sending`` (see ``jobs.whatsapp.sender``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import NEVER_REUSE_IDS, Base
from .types import UtcDateTime, utcnow


class TemplateStatus(StrEnum):
    SUBMITTED = "SUBMITTED"  # sent to Meta for review; template sync asks the Cloud API for the verdict
    APPROVED = "APPROVED"  # blasts may use it
    REJECTED = "REJECTED"  # ``rejection_reason`` says why (Meta's ``rejected_reason``)


class BlastStatus(StrEnum):
    DRAFT = "DRAFT"  # no send time yet: nothing queued
    SCHEDULED = "SCHEDULED"  # a job is deferred to ``send_at`` (``job_id``)
    PROCESSING = "PROCESSING"  # sending; a run that dies here is resumed with the recipients not yet sent
    COMPLETED = "COMPLETED"  # every recipient has a final delivery (sent or failed); the counts say how many
    FAILED = "FAILED"  # the blast as a whole could not go out (``last_error``): token, template, or tries spent
    CANCELLED = "CANCELLED"


class MessageStatus(StrEnum):
    PENDING = "pending"  # not sent, or known not to have been taken (5xx, 429): safe to send
    SENDING = "sending"  # claimed by a run and handed to the API; the answer is not recorded yet
    SENT = "sent"  # the API accepted it and gave a message id (wamid)
    FAILED = "failed"  # the API refused it for this recipient (4xx, with its error code and message)
    UNKNOWN = "unknown"  # found in "sending" by a later run: maybe sent, so never resent automatically


FINAL_MESSAGE_STATUSES = (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.UNKNOWN)


class WhatsAppTemplate(Base):
    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("name", "language"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))  # e.g. "id", "en_US"
    category: Mapped[str] = mapped_column(String(32))  # MARKETING, UTILITY, AUTHENTICATION
    status: Mapped[str] = mapped_column(String(16), default=TemplateStatus.SUBMITTED, index=True)
    rejection_reason: Mapped[str | None] = mapped_column(String(1000), default=None)
    external_id: Mapped[str | None] = mapped_column(String(64), default=None)  # Meta's template id
    # The BODY component's text as the Cloud API reports it ("Halo {{1}}, promo {{2}}"); None until synced.
    body: Mapped[str | None] = mapped_column(Text, default=None)
    synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class WhatsAppBlast(Base):
    __tablename__ = "whatsapp_blasts"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique beyond this database: job ids are built from it, and Redis may outlive a database reset.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: uuid.uuid4().hex)
    name: Mapped[str] = mapped_column(String(300))
    template_id: Mapped[int] = mapped_column(ForeignKey("whatsapp_templates.id"), index=True)
    language: Mapped[str] = mapped_column(String(16))
    # The template's body parameters, in order ({{1}}, {{2}} …), the same for every recipient.
    variables: Mapped[list[str]] = mapped_column(JSON, default=list)
    send_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None, index=True)
    status: Mapped[str] = mapped_column(String(16), default=BlastStatus.DRAFT, index=True)
    # Bumped by every schedule, reschedule and cancel: a queued job only runs the version it was queued for.
    schedule_version: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str | None] = mapped_column(String(128), default=None)
    total_recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    unknown_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class WhatsAppRecipient(Base):
    __tablename__ = "whatsapp_recipients"
    __table_args__ = (UniqueConstraint("blast_id", "phone"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blast_id: Mapped[int] = mapped_column(ForeignKey("whatsapp_blasts.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16))  # E.164, validated by ``jobs.whatsapp.phones``
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WhatsAppDelivery(Base):
    """The ledger of one recipient's message; created with the recipient, so a blast's deliveries are complete."""

    __tablename__ = "whatsapp_deliveries"
    __table_args__ = (UniqueConstraint("blast_id", "phone"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    blast_id: Mapped[int] = mapped_column(ForeignKey("whatsapp_blasts.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("whatsapp_recipients.id", ondelete="CASCADE"), unique=True)
    phone: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.PENDING)
    message_id: Mapped[str | None] = mapped_column(String(128), default=None)  # the API's wamid
    error_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error_message: Mapped[str | None] = mapped_column(String(1000), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sending_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


def blast_counts(statuses: dict[str, int]) -> dict[str, Any]:
    """The blast's counters from delivery status → count."""
    return {
        "sent_count": statuses.get(MessageStatus.SENT, 0),
        "failed_count": statuses.get(MessageStatus.FAILED, 0),
        "unknown_count": statuses.get(MessageStatus.UNKNOWN, 0),
    }
