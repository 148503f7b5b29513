"""What the scraper system's jobs share within one worker process, kept in the job context.

One database engine, one scraping HTTP client (with its per-host gates and robots.txt cache), one webhook HTTP
client (with its per-endpoint gates), one SMTP pool and the email templates per process: opened by the worker's
``on_startup`` hook (``scraping_hooks``) and closed by ``on_shutdown``. A worker built without the hooks still
works: the first job opens the runtime from the environment (``runtime_from``).

In a worker, the per-host and per-endpoint rates and 429 pauses go through the framework's ``SharedRateLimiter`` on
the worker's own Redis connection and key prefix, so they hold across every worker process; without a worker
(a script) they are per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from queue_system import JobContext, SharedRateLimiter
from queue_system.logging_setup import get_logger
from queue_system.runner import CTX_RUNTIME

from ..certificates.smtp import SmtpConfig, SmtpPool
from ..config import AppSettings
from ..db import Database
from ..db.migrate import current_revision, head_revision
from ..errors import DatabaseNotMigrated
from ..worker_resources import Hook, resources_in
from .http import Fetcher, tls_context
from .mail import TemplateRenderer
from .politeness import KeyedLimiter
from .settings import HostLimit, ScraperSettings

CTX_KEY = "scraping"
SettingsFactory = Callable[[], tuple[AppSettings, ScraperSettings]]
log = get_logger(__name__)


@dataclass
class ScrapingRuntime:
    app: AppSettings
    settings: ScraperSettings
    db: Database
    fetcher: Fetcher
    webhooks: httpx.AsyncClient
    webhook_limiter: KeyedLimiter
    smtp: SmtpPool
    templates: TemplateRenderer

    async def close(self) -> None:
        await self.fetcher.close()
        await self.webhooks.aclose()
        await self.smtp.close()
        await self.db.dispose()


def settings_from_env() -> tuple[AppSettings, ScraperSettings]:
    return AppSettings.from_env(), ScraperSettings.from_env()


def shared_limiter(ctx: JobContext | None) -> SharedRateLimiter | None:
    """The shared rate limiter on the running worker's Redis and prefix; None outside a worker."""
    worker: Any = (ctx or {}).get(CTX_RUNTIME)
    if worker is None:
        return None
    return SharedRateLimiter(worker.redis, worker.keys.prefix, scripts=worker.scripts)


async def open_runtime(
    app: AppSettings, settings: ScraperSettings, shared: SharedRateLimiter | None = None
) -> ScrapingRuntime:
    """Open everything the jobs need; refuses to start on a database whose schema is behind the code."""
    db = Database(app.resolved_database_url, schema=app.database_schema)
    try:
        current, head = await current_revision(db), head_revision()
        if current != head:
            raise DatabaseNotMigrated(
                f"{db!r} is at {current or 'no revision'}, the code needs {head}: run `queue-system db upgrade`"
            )
    except BaseException:
        await db.dispose()
        raise
    # httpx logs every request at INFO: at hundreds of pages a second that drowns the job logs (which already
    # say what each job fetched and how it ended); its warnings still come through.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tls = tls_context()
    webhook_limit = HostLimit(rate_per_s=settings.webhook_rate_per_s, concurrency=8)
    runtime = ScrapingRuntime(
        app=app,
        settings=settings,
        db=db,
        fetcher=Fetcher(settings, tls=tls, shared=shared),
        # No redirects: a webhook endpoint that redirects is misconfigured, and following it would send the
        # signed payload somewhere nobody chose.
        webhooks=httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_s), follow_redirects=False, verify=tls
        ),
        webhook_limiter=KeyedLimiter(lambda _endpoint: webhook_limit, shared=shared, namespace="webhook"),
        smtp=SmtpPool(SmtpConfig.from_url(app.smtp_url), app.smtp_pool_size),
        templates=TemplateRenderer(settings.email_template_dir),
    )
    log.info("scraping.runtime_opened", database=repr(db), proxies=len(settings.proxy_urls), shared_limits=bool(shared))
    return runtime


def scraping_hooks(settings: SettingsFactory = settings_from_env) -> tuple[Hook, Hook]:
    """``(on_startup, on_shutdown)`` for ``worker_settings(...)``; ``settings`` is read when the worker starts."""

    async def on_startup(ctx: JobContext) -> None:
        ctx[CTX_KEY] = await open_runtime(*settings(), shared_limiter(ctx))

    async def on_shutdown(ctx: JobContext) -> None:
        runtime: ScrapingRuntime | None = ctx.pop(CTX_KEY, None)
        if runtime is not None:
            await runtime.close()

    return on_startup, on_shutdown


async def runtime_from(ctx: JobContext) -> ScrapingRuntime:
    """The worker's runtime; opened from the environment by the first job if no startup hook did it."""
    return await resources_in(ctx, CTX_KEY, lambda: open_runtime(*settings_from_env(), shared_limiter(ctx)))
