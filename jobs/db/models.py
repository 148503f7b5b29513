"""The domain tables of the seed systems.

The certificate system (seed 000): events, their participants, certificates and email deliveries. The scraper
system (seed 002): shops, products and their price history, orders, and the progress of batch scrapes.

The database, not Redis, is the source of truth: a job carries only a participant id and reads everything else
here, so a lost or replayed job can always be re-derived from these rows.

Versions: ``Participant.certificate_version`` is bumped when a certificate must be re-issued (a corrected
name, say). A certificate row and its email delivery exist once per (participant, version), which is what makes
re-running a job idempotent and an email impossible to send twice for the same certificate.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .types import UtcDateTime, utcnow

# Stable constraint names, so migrations can refer to them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Ids are never reused, not even on SQLite after the newest row was deleted: they end up in job ids, file
# names, certificate numbers and QR codes, where a reused id would point at someone else.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CertificateStatus(StrEnum):
    PENDING = "pending"  # the row (number, verification code) exists; the file may not
    GENERATED = "generated"  # the file is written, checked and recorded


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not handed to the server, or the server refused it with an answer: safe to send
    SENDING = "sending"  # handed to the server; the outcome is not known yet (or never was: the worker died)
    ACCEPTED = "accepted"  # the server answered 250 to DATA
    REJECTED = "rejected"  # the server answered 5xx: a person must look before it is sent again
    UNKNOWN = "unknown"  # found in "sending" by a later try: maybe delivered, so never resent automatically


class Event(Base):
    __tablename__ = "events"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    held_on: Mapped[date] = mapped_column(Date)
    certificate_title: Mapped[str] = mapped_column(String(200), default="Certificate of Participation")
    logo_path: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Participant(Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("event_id", "email"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique beyond this database (job ids are built from it, and Redis may outlive a database reset).
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=lambda: uuid.uuid4().hex)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(320))
    certificate_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (UniqueConstraint("participant_id", "version"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Indexed by the (participant_id, version) unique constraint.
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=CertificateStatus.PENDING)
    # Relative to the certificate storage directory, so the directory can move without rewriting rows.
    file_path: Mapped[str | None] = mapped_column(String(1000), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    generated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class EmailDelivery(Base):
    __tablename__ = "email_deliveries"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One delivery per certificate (and so per participant and version): the "never twice" key.
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id", ondelete="CASCADE"), unique=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    # Chosen before the first try and reused by every retry, so the server's log can tell whether it arrived.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    server_reply: Mapped[str | None] = mapped_column(String(1000), default=None)
    last_error: Mapped[str | None] = mapped_column(String(1000), default=None)
    sending_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# --- The scraper system (seed 002): shops, products with their price history, orders, and scrape progress. ---
#
# External ids (the marketplace's product, shop and order ids) are strings and the natural keys of upserts; the
# integer ids are ours. Prices are integers in minor units (hundredths), because SQLite has no exact decimal type
# and a float would drift. The full-text index over products (``product_search``) is not an ORM table: it is an
# FTS5 virtual table on SQLite and a tsvector table on PostgreSQL, created by migration s0002 and maintained by
# ``jobs.scraping.search`` (``SEARCH_INDEX_TABLES`` lists its tables for schema comparisons).


class Shop(Base):
    __tablename__ = "shops"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    follower_count: Mapped[int | None] = mapped_column(Integer, default=None)
    product_count: Mapped[int | None] = mapped_column(Integer, default=None)
    location: Mapped[str | None] = mapped_column(String(200), default=None)
    last_scraped_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), unique=True)
    shop_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    shop_name: Mapped[str | None] = mapped_column(String(300), default=None)
    name: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="IDR")
    stock: Mapped[int | None] = mapped_column(Integer, default=None)
    rating: Mapped[float | None] = mapped_column(Float, default=None)
    images: Mapped[list[str]] = mapped_column(JSON, default=list)
    url: Mapped[str | None] = mapped_column(String(2000), default=None)
    last_scraped_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PriceHistory(Base):
    """One row per observed price change of a product (the first observation included)."""

    __tablename__ = "price_history"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("account_id", "order_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="IDR")
    ordered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    last_scraped_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class ScrapeStatus(StrEnum):
    PENDING = "pending"  # not fetched yet (or to be fetched again by the next try)
    SCRAPED = "scraped"  # fetched and parsed; the record went on to data processing
    NOT_FOUND = "not_found"  # 404/410: recorded, never retried
    BLOCKED = "blocked"  # robots.txt disallows it
    PARSE_ERROR = "parse_error"  # the page changed shape: a person must look
    RETRYING = "retrying"  # a transient failure (429, 5xx, timeout); the next try fetches it again
    FAILED = "failed"  # transient failures outlasted the job's tries


class ScrapeBatch(Base):
    """One batch-scraping job (keyed by its job id, so every try of it finds the same row)."""

    __tablename__ = "scrape_batches"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    total: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, completed, partial
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ScrapeItem(Base):
    """The progress of one URL of a batch."""

    __tablename__ = "scrape_items"
    __table_args__ = (UniqueConstraint("batch_id", "url"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("scrape_batches.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default=ScrapeStatus.PENDING)
    http_status: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(String(1000), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
