"""The domain database: SQLAlchemy 2 async models and the engine (migrations: ``jobs.db.migrate``)."""

from __future__ import annotations

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
