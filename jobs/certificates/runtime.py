"""What the certificate jobs share within one worker process, kept in the job context.

One database engine, one prepared font, one SMTP connection pool and one pool of render processes
(``cpu_pool``) per worker process, opened by the worker's ``on_startup`` hook and closed by ``on_shutdown``
(``certificate_hooks``). A worker built without those hooks still works: the first job opens the runtime from
the environment (``runtime_from``), it is just never closed explicitly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from queue_system import JobContext

from ..config import AppSettings
from ..db import Database
from ..db.migrate import current_revision, head_revision
from ..errors import DatabaseNotMigrated
from ..worker_resources import Hook, lifecycle_hooks, resources_in
from .cpu_pool import CpuPool, FontSource
from .delivery import CertificateMailer
from .fonts import find_font, load_font
from .generation import CertificateGenerator
from .smtp import SmtpConfig, SmtpPool
from .storage import CertificateStorage

CTX_KEY = "certificates"
log = structlog.stdlib.get_logger(__name__)


@dataclass
class CertificateRuntime:
    settings: AppSettings
    db: Database
    storage: CertificateStorage
    smtp: SmtpPool
    cpu: CpuPool
    generator: CertificateGenerator
    mailer: CertificateMailer

    async def close(self) -> None:
        await self.smtp.close()
        await asyncio.to_thread(self.cpu.close)
        await self.db.dispose()


async def open_runtime(settings: AppSettings) -> CertificateRuntime:
    """Open everything the jobs need; refuses to start on an unmigrated database or without a font."""
    db = Database(settings.resolved_database_url, schema=settings.database_schema)
    try:
        await _check_migrated(db)
        # Prepared here (cut into the cache directory) so the render processes only read the cached files.
        await asyncio.to_thread(load_font, find_font(settings.certificate_font), settings.cache_dir)
    except BaseException:
        await db.dispose()
        raise
    storage = CertificateStorage(settings.resolved_certificate_dir)
    smtp = SmtpPool(SmtpConfig.from_url(settings.smtp_url), settings.smtp_pool_size)
    font = FontSource(settings.certificate_font, settings.cache_dir)
    cpu = await asyncio.to_thread(CpuPool, settings.certificate_render_processes, font)
    log.info("certificates.runtime_opened", database=repr(db), smtp=smtp.config.describe(), storage=str(storage.root))
    return CertificateRuntime(
        settings=settings,
        db=db,
        storage=storage,
        smtp=smtp,
        cpu=cpu,
        generator=CertificateGenerator(db, storage, cpu, settings.verify_url),
        mailer=CertificateMailer(db, storage, smtp, settings.mail_from),
    )


def certificate_hooks(settings: Callable[[], AppSettings] = AppSettings.from_env) -> tuple[Hook, Hook]:
    """``(on_startup, on_shutdown)`` for ``worker_settings(...)``; ``settings`` is read when the worker starts."""
    return lifecycle_hooks(CTX_KEY, lambda: open_runtime(settings()))


async def runtime_from(ctx: JobContext) -> CertificateRuntime:
    """The worker's runtime; opened from the environment by the first job if no startup hook did it."""
    return await resources_in(ctx, CTX_KEY, lambda: open_runtime(AppSettings.from_env()))


async def _check_migrated(db: Database) -> None:
    current, head = await current_revision(db), head_revision()
    if current != head:
        raise DatabaseNotMigrated(
            f"{db!r} is at revision {current or 'none'}, the code needs {head}: run `queue-system db upgrade`"
        )
