"""The scraper system's settings (``SCRAPER_*``, ``WEBHOOK_*``, ``EMAIL_*``), read from the environment.

Kept apart from ``jobs.config.AppSettings`` (database, SMTP, data dir), which the scraper reuses as is, so that
each system's knobs live with its code. Like AppSettings, unknown fields are refused and bad values fail at start.

Politeness defaults are deliberately gentle (2 requests/s and 4 at once per host): a marketplace bans scrapers
that hammer it. In a worker the rate (and any 429 pause) holds across every worker process (the framework's
``SharedRateLimiter``, see politeness.py); the concurrency is per process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import AppSettings, SettingsError

DEFAULT_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
)

# field -> (environment variable, how to read it: "str", "list" (comma-separated) or "json")
_ENV: dict[str, tuple[str, str]] = {
    "base_url": ("SCRAPER_BASE_URL", "str"),
    "timeout_s": ("SCRAPER_TIMEOUT_S", "str"),
    "host_rate_per_s": ("SCRAPER_HOST_RATE_PER_S", "str"),
    "host_concurrency": ("SCRAPER_HOST_CONCURRENCY", "str"),
    "host_limits": ("SCRAPER_HOST_LIMITS", "json"),
    "user_agents": ("SCRAPER_USER_AGENTS", "json"),
    "robots_user_agent": ("SCRAPER_ROBOTS_USER_AGENT", "str"),
    "robots_ttl_s": ("SCRAPER_ROBOTS_TTL_S", "str"),
    "proxy_urls": ("SCRAPER_PROXY_URLS", "list"),
    "max_pages": ("SCRAPER_MAX_PAGES", "str"),
    "chunk_size": ("SCRAPER_CHUNK_SIZE", "str"),
    "webhook_secret": ("WEBHOOK_SECRET", "str"),
    "webhook_secrets": ("WEBHOOK_SECRETS", "json"),
    "webhook_timeout_s": ("WEBHOOK_TIMEOUT_S", "str"),
    "webhook_rate_per_s": ("WEBHOOK_RATE_PER_S", "str"),
    "email_template_dir": ("EMAIL_TEMPLATE_DIR", "str"),
    "temp_roots": ("SCRAPER_TEMP_ROOTS", "list"),
}


class HostLimit(BaseModel):
    """Politeness for one host: requests per second (0 = unlimited) and requests in flight at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate_per_s: float = Field(ge=0)
    concurrency: int = Field(ge=1, le=1000)


class ScraperSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(default="https://shopee.co.id", pattern=r"^https?://[^/\s]+$")  # orders are read here
    timeout_s: float = Field(default=15.0, gt=0)
    host_rate_per_s: float = Field(default=2.0, ge=0)
    host_concurrency: int = Field(default=4, ge=1, le=1000)
    # Per-host overrides, e.g. SCRAPER_HOST_LIMITS='{"shopee.co.id": {"rate_per_s": 1, "concurrency": 2}}'.
    host_limits: dict[str, HostLimit] = Field(default_factory=dict)
    user_agents: tuple[str, ...] = Field(default=DEFAULT_USER_AGENTS, min_length=1)
    # The token robots.txt rules are matched against (rotating browser strings name no crawler).
    robots_user_agent: str = "queue-system-scraper"
    robots_ttl_s: float = Field(default=3600.0, ge=0)
    # Used by jobs enqueued with use_proxy=True, in rotation; e.g. "http://user:pw@proxy1:3128,http://proxy2:3128".
    proxy_urls: tuple[str, ...] = ()
    max_pages: int = Field(default=200, ge=1)  # a pagination loop stops here even if the site says "more"
    chunk_size: int = Field(default=100, ge=1, le=5000)  # records per follow-up job
    # The HMAC key of webhooks; WEBHOOK_SECRETS='{"https://api.example.com": "…"}' sets one per origin.
    webhook_secret: str = ""
    webhook_secrets: dict[str, str] = Field(default_factory=dict)
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_rate_per_s: float = Field(default=10.0, ge=0)  # per endpoint; 0 = unlimited
    email_template_dir: Path | None = None  # templates here override the built-in ones of the same name
    # cleanup-temp-files only ever deletes inside these; empty means <APP_DATA_DIR>/tmp.
    temp_roots: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ScraperSettings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        try:
            for field, (name, kind) in _ENV.items():
                raw = environ.get(name, "").strip()
                if not raw:
                    continue
                if kind == "list":
                    values[field] = tuple(part.strip() for part in raw.split(",") if part.strip())
                elif kind == "json":
                    values[field] = json.loads(raw)
                else:
                    values[field] = raw
            values.update(overrides)
            return cls.model_validate(values)
        except (ValidationError, json.JSONDecodeError) as exc:
            raise SettingsError(f"invalid scraper settings: {exc}") from exc

    def limit_for(self, host: str) -> HostLimit:
        return self.host_limits.get(host) or HostLimit(
            rate_per_s=self.host_rate_per_s, concurrency=self.host_concurrency
        )

    def secret_for(self, url: str) -> str:
        """The webhook key for ``url``: the longest matching WEBHOOK_SECRETS prefix, else WEBHOOK_SECRET."""
        matches = [prefix for prefix in self.webhook_secrets if url.startswith(prefix)]
        return self.webhook_secrets[max(matches, key=len)] if matches else self.webhook_secret

    def resolved_temp_roots(self, app: AppSettings) -> tuple[Path, ...]:
        roots = self.temp_roots or (app.resolved_data_dir / "tmp",)
        return tuple(root.expanduser().resolve() for root in roots)
