"""The application's own settings (database, certificate storage, SMTP), read from the environment.

They are kept apart from the framework's ``QS_*`` settings on purpose: ``QueueConfig`` refuses unknown ``QS_``
variables, and these belong to the jobs, not to the queue. Every path is resolved against the working directory
once, so a worker and the CLI started from the project root agree on where the data lives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_DATA_DIR = Path(".qs/data")
DEFAULT_SMTP_URL = "smtp://127.0.0.1:1025"

_ENV_NAMES = {
    "data_dir": "APP_DATA_DIR",
    "database_url": "DATABASE_URL",
    "database_schema": "DATABASE_SCHEMA",
    "certificate_dir": "CERTIFICATE_DIR",
    "certificate_font": "CERTIFICATE_FONT",
    "verify_url": "CERTIFICATE_VERIFY_URL",
    "smtp_url": "SMTP_URL",
    "smtp_pool_size": "SMTP_POOL_SIZE",
    "mail_from": "MAIL_FROM",
    "email_rate_per_minute": "EMAIL_RATE_PER_MINUTE",
    "mail_sink_dir": "MAIL_SINK_DIR",
}


class SettingsError(ValueError):
    """An application setting is missing or invalid."""


class AppSettings(BaseModel):
    """Where the jobs keep their data and how they reach the outside world."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_dir: Path = DEFAULT_DATA_DIR
    # ``sqlite+aiosqlite:///…`` or ``postgresql+asyncpg://…``; empty means ``<data_dir>/app.db``.
    database_url: str = ""
    # PostgreSQL only: the schema the tables live in (its ``search_path``); empty means the server's default.
    database_schema: str = Field(default="", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$|^$")
    certificate_dir: Path | None = None
    # A TrueType font with the scripts names are written in; empty means DejaVu Sans from fonts-dejavu-core.
    certificate_font: Path | None = None
    verify_url: str = "http://localhost:8000/certificates/verify"
    smtp_url: str = DEFAULT_SMTP_URL
    smtp_pool_size: int = Field(default=4, ge=1, le=100)
    mail_from: str = "Certificates <certificates@example.test>"
    # The seam for send-rate limiting: 0 means unlimited. Enforced per worker process until the framework's
    # shared queue rate limits exist (see jobs/certificates/pacing.py).
    email_rate_per_minute: float = Field(default=0, ge=0)
    mail_sink_dir: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> AppSettings:
        """Read the variables listed in ``_ENV_NAMES`` (empty values count as unset), then apply overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            field: environ[name] for field, name in _ENV_NAMES.items() if environ.get(name, "").strip()
        }
        values.update(overrides)
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise SettingsError(f"invalid application settings: {exc}") from exc

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables (for worker processes started with them)."""
        values = self.model_dump()
        return {name: "" if values[field] is None else str(values[field]) for field, name in _ENV_NAMES.items()}

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.resolved_data_dir / 'app.db'}"

    @property
    def resolved_certificate_dir(self) -> Path:
        return (self.certificate_dir or self.resolved_data_dir / "certificates").expanduser().resolve()

    @property
    def resolved_mail_sink_dir(self) -> Path:
        return (self.mail_sink_dir or self.resolved_data_dir / "mail-sink").expanduser().resolve()

    @property
    def cache_dir(self) -> Path:
        """Derived files that may be deleted at any time (e.g. the prepared certificate font)."""
        return self.resolved_data_dir / "cache"
