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

from queue_system import ConfigError

DEFAULT_DATA_DIR = Path(".qs/data")
DEFAULT_SMTP_URL = "smtp://127.0.0.1:1025"

_ENV_NAMES = {
    "data_dir": "APP_DATA_DIR",
    "database_url": "DATABASE_URL",
    "database_schema": "DATABASE_SCHEMA",
    "certificate_dir": "CERTIFICATE_DIR",
    "certificate_font": "CERTIFICATE_FONT",
    "certificate_render_processes": "CERTIFICATE_RENDER_PROCESSES",
    "verify_url": "CERTIFICATE_VERIFY_URL",
    "smtp_url": "SMTP_URL",
    "smtp_pool_size": "SMTP_POOL_SIZE",
    "mail_from": "MAIL_FROM",
    "email_rate_per_minute": "EMAIL_RATE_PER_MINUTE",
    "mail_sink_dir": "MAIL_SINK_DIR",
    "whatsapp_api_url": "WHATSAPP_API_URL",
    "whatsapp_token": "WHATSAPP_TOKEN",
    "whatsapp_phone_number_id": "WHATSAPP_PHONE_NUMBER_ID",
    "whatsapp_waba_id": "WHATSAPP_WABA_ID",
    "whatsapp_api_version": "WHATSAPP_API_VERSION",
    "whatsapp_messages_per_second": "WHATSAPP_MESSAGES_PER_SECOND",
    "whatsapp_recipient_interval_s": "WHATSAPP_RECIPIENT_INTERVAL_S",
    "whatsapp_recovery_window_s": "WHATSAPP_RECOVERY_WINDOW_S",
    "product_items_rate": "PRODUCT_ITEMS_RATE",
    "product_items_window_s": "PRODUCT_ITEMS_WINDOW_S",
    "product_items_concurrency": "PRODUCT_ITEMS_CONCURRENCY",
    "product_items_keep_completed": "PRODUCT_ITEMS_KEEP_COMPLETED",
    "product_items_keep_failed": "PRODUCT_ITEMS_KEEP_FAILED",
    "batch_status_concurrency": "BATCH_STATUS_CONCURRENCY",
}


class SettingsError(ConfigError, ValueError):
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
    # Processes beside each worker that render, check and write certificates (jobs/certificates/cpu_pool.py);
    # 0 = in the worker's own threads. One per CPU core by default.
    certificate_render_processes: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=0, le=64)
    verify_url: str = "http://localhost:8000/certificates/verify"
    smtp_url: str = DEFAULT_SMTP_URL
    # Connections per worker, opened only as concurrent jobs need them. Each email holds one from MAIL FROM to the
    # answer to DATA, so this, not the queue's concurrency, bounds parallel sends (4 held the demo's send stage to
    # 17 s, 10 to 12 s; bench/RESULTS.md, issue 7, cert2; 20 took it from 8.0-11.0 to 6.6-9.4 s, session 7). A
    # provider's send rate is EMAIL_RATE_PER_MINUTE's job; set this to the connections a provider allows.
    smtp_pool_size: int = Field(default=20, ge=1, le=100)
    mail_from: str = "Certificates <certificates@example.test>"
    # Emails started per minute across every worker (the email-sending queue's shared rate limit, jobs/limits.py);
    # 0 means unlimited, right for the local sink.
    email_rate_per_minute: int = Field(default=0, ge=0)
    mail_sink_dir: Path | None = None
    # The WhatsApp Cloud API (seed 004): the Graph API's base URL, a bearer token, the sending phone number's id
    # and the WhatsApp Business Account id (whose message templates are synced). Empty token or ids: blasts and
    # template sync refuse to run with a clear error (``jobs.whatsapp.client.CloudApiSettings``).
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_token: str = Field(default="", repr=False)
    whatsapp_phone_number_id: str = ""
    whatsapp_waba_id: str = ""
    whatsapp_api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    # The sender's pace (Cloud API throughput is 80 messages/s by default) and the Cloud API's pair rate limit (one
    # message per user per 6 s); 0 = unpaced. Shared by every worker process (jobs/whatsapp/shared_pacing.py).
    whatsapp_messages_per_second: float = Field(default=80, ge=0)
    whatsapp_recipient_interval_s: float = Field(default=6, ge=0)
    # Workers starting within this many seconds of each other run the missed-blast recovery once.
    whatsapp_recovery_window_s: float = Field(default=60, gt=0)
    # Seed 003's product queues: 5 item jobs per 10 s, 2 at once, keep 10 completed / 5 failed; the batch-status
    # queue 5 at once (jobs/products/queue_settings.py). Defaults, to be raised for larger setups.
    product_items_rate: int = Field(default=5, ge=1)
    product_items_window_s: float = Field(default=10, gt=0)
    product_items_concurrency: int = Field(default=2, ge=1)
    product_items_keep_completed: int = Field(default=10, ge=0)
    product_items_keep_failed: int = Field(default=5, ge=0)
    batch_status_concurrency: int = Field(default=5, ge=1)

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
