"""The domain database: SQLAlchemy 2 async models and the engine (migrations: ``jobs.db.migrate``)."""

from __future__ import annotations

# Imported so that their tables are part of ``Base.metadata`` wherever the package is loaded (Alembic, tests).
from . import products, whatsapp  # noqa: F401
from .engine import Database
from .models import Base, Certificate, CertificateStatus, DeliveryStatus, EmailDelivery, Event, Participant

__all__ = [
    "Base",
    "Certificate",
    "CertificateStatus",
    "Database",
    "DeliveryStatus",
    "EmailDelivery",
    "Event",
    "Participant",
]
