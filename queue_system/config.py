"""Typed, validated configuration that refuses unknown settings loudly.

Values come from keyword arguments or from the environment (``QS_*`` plus the conventional ``REDIS_URL``).
An unknown ``QS_`` variable is an error, not a silent no-op: a misspelled ``QS_MAX_PAYLOD_BYTES`` would
otherwise leave the default in force without anyone noticing (arq silently drops unknown WorkerSettings).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

ENV_PREFIX = "QS_"
_LIST_FIELDS = {"encryption_keys", "worker_queues", "redis_sentinels", "web_redact_fields"}


class QueueConfig(BaseModel):
    """Everything a producer, worker or tool needs to reach and shape the queue system."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    redis_url: str = "redis://127.0.0.1:6379/0"
    prefix: str = Field(default="qs", pattern=r"^[A-Za-z0-9_.\-]+$")
    env: Literal["development", "production", "test"] = "development"
    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_payload_bytes: int = Field(default=1024 * 1024, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    # A command that gets no answer within this time fails (instead of hanging on a dead server).
    socket_timeout_s: float = Field(default=10.0, gt=0)
    # Connections per process; a burst beyond them waits up to pool_timeout_s for a free one instead of failing.
    max_connections: int = Field(default=50, ge=1)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    # Sentinel: "host:port,host:port" and the monitored primary's name; REDIS_URL then supplies password, db, TLS.
    redis_sentinels: tuple[str, ...] = ()
    redis_sentinel_master: str = "mymaster"
    # Keys for sensitive jobs (Fernet, url-safe base64 of 32 bytes); the first encrypts, all decrypt (rotation).
    encryption_keys: tuple[str, ...] = ()
    # arq deletes a job's payload this long after it was due; retries must finish within it.
    job_expires_s: int = Field(default=7 * 86400, gt=0)
    keep_result_s: int = Field(default=3600, ge=0)
    # Finished job records kept per queue (the defaults of Retention; a job's or queue's own policy wins). A
    # completed record's default age is its job's keep_result.
    keep_completed_count: int | None = Field(default=1000, ge=0)
    keep_completed_age_s: float | None = Field(default=None, ge=0)
    keep_failed_count: int | None = Field(default=10_000, ge=0)
    keep_failed_age_s: float | None = Field(default=7 * 86400, ge=0)
    # The event stream ({prefix}:events) keeps about this many events; 0 turns events off.
    events_maxlen: int = Field(default=10_000, ge=0)
    # Log lines kept per job (the last ones).
    job_log_lines: int = Field(default=200, ge=1)
    failed_max_entries: int = Field(default=100_000, gt=0)
    failed_max_age_s: int = Field(default=30 * 86400, gt=0)
    # Narrows the queues a worker serves (QS_WORKER_QUEUES=a,b); the stock arq worker serves the first one.
    worker_queues: tuple[str, ...] = ()
    # A running job's lease: renewed by its worker every third of it; a dead worker's job runs again after it.
    lease_s: float = Field(default=30.0, ge=1)
    # On SIGTERM a worker lets running jobs finish this long, then re-queues the rest (their try not counted).
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    # A worker started while Redis is down waits for it this long (0 = forever), then exits non-zero.
    redis_wait_s: float = Field(default=0.0, ge=0)
    # Longest an idle worker blocks before looking again (jobs enqueued by this project wake it at once).
    idle_poll_s: float = Field(default=0.5, gt=0)
    # How many times a job may lose its worker (crash, kill) before it is failed as "worker lost".
    lost_attempts_budget: int = Field(default=3, ge=1)

    # The dashboard and HTTP API (queue_system/web). Users "name:role:argon2-hash" and API tokens
    # "name:role:sha256-of-token", separated by ";" (`queue-system web user|token` prints them); no user, no login.
    web_users: str = ""
    web_tokens: str = ""
    # Signs session cookies; empty: a random key per process (sessions end when it restarts).
    web_secret_key: str = ""
    web_session_max_age_s: int = Field(default=12 * 3600, gt=0)
    web_secure_cookies: bool = False  # set behind HTTPS
    # Failed logins allowed per user and client address within the window.
    web_login_attempts: int = Field(default=5, ge=1)
    web_login_window_s: float = Field(default=300.0, gt=0)
    # Payload fields (any depth, any case) the dashboard and API show as "<redacted>": QS_WEB_REDACT_FIELDS=token,email
    web_redact_fields: tuple[str, ...] = ()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator(
        "keep_completed_count", "keep_completed_age_s", "keep_failed_count", "keep_failed_age_s", mode="before"
    )
    @classmethod
    def _unlimited(cls, value: Any) -> Any:
        """``none`` (or empty) in the environment means no limit."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "none") else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> QueueConfig:
        """Build from ``QS_*`` variables (and ``REDIS_URL``), then apply keyword overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if environ.get("REDIS_URL"):
            values["redis_url"] = environ["REDIS_URL"]
        for name, raw in environ.items():
            if not name.startswith(ENV_PREFIX):
                continue
            field = name[len(ENV_PREFIX) :].lower()
            if field not in cls.model_fields:
                known = ", ".join(ENV_PREFIX + f.upper() for f in sorted(cls.model_fields))
                raise ConfigError(f"unknown setting {name}; known settings: {known}")
            values[field] = _split(raw) if field in _LIST_FIELDS else raw
        values.update(overrides)
        return cls.build(**values)

    @classmethod
    def build(cls, **values: Any) -> QueueConfig:
        """Validate ``values``, turning pydantic's error into the framework's ConfigError."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(f"invalid queue-system settings: {exc}") from exc

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def effective_log_format(self) -> Literal["console", "json"]:
        """``auto`` means one JSON object per line in production and readable console lines elsewhere."""
        if self.log_format == "auto":
            return "json" if self.is_production else "console"
        return self.log_format


def _split(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())
