"""Helpers shared by the certificate tests: test data, the mail sink handle, worker settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from jobs.certificates import CERTIFICATE_JOBS, certificate_hooks
from jobs.certificates.render import CertificateContent
from jobs.config import AppSettings
from jobs.db import Database, Event, Participant
from jobs.mail_sink import EmlDirectorySink
from queue_system import QueueConfig, worker_settings

# Names in several scripts, as the issue asks (Latin with diacritics, Vietnamese, Cyrillic, Greek).
NAMES = ["Ñandú Çelik", "Nguyễn Thị Hồng", "Ахмед", "Siti Nurhaliza", "Ζωή Παπαδοπούλου", "Jürgen Groß"]


def certificate_content(name: str) -> CertificateContent:
    """What a certificate for ``name`` prints, with fixed event data (the render tests, without a database)."""
    return CertificateContent(
        title="Certificate of Participation",
        participant_name=name,
        event_name="Kegiatan Test 3000 Peserta",
        event_date=date(2026, 11, 22),
        number="E7-000042-1",
        verify_url="http://localhost:8000/certificates/verify/0123456789abcdef",
    )


@dataclass
class Sink:
    """A running SMTP server on loopback and where it stores messages."""

    handler: EmlDirectorySink
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def files(self) -> list[Path]:
        return sorted(self.handler.directory.glob("*.eml"))


def make_worker_settings(config: QueueConfig, settings: AppSettings) -> type:
    on_startup, on_shutdown = certificate_hooks(lambda: settings)
    return worker_settings(
        jobs=CERTIFICATE_JOBS,
        config=config,
        concurrency=4,
        poll_delay_s=0.01,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )


async def create_event(db: Database, names: list[str] | None = None, **event: Any) -> tuple[int, list[int]]:
    """An event with one participant per name (addresses on example.test); returns its id and the participants'."""
    tag = uuid.uuid4().hex[:8]
    async with db.session() as session, session.begin():
        row = Event(
            code=f"TEST-{tag}",
            name=event.pop("name", "Kegiatan Test Peserta"),
            held_on=date(2026, 11, 22),
            **event,
        )
        session.add(row)
        await session.flush()
        rows = [
            {"event_id": row.id, "name": name, "email": f"p{i}.{tag}@example.test"}
            for i, name in enumerate(names if names is not None else NAMES)
        ]
        await session.execute(insert(Participant), rows)
        event_id = row.id
        ids = await session.scalars(
            select(Participant.id).where(Participant.event_id == event_id).order_by(Participant.id)
        )
        return event_id, list(ids)
