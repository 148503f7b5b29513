"""What the WhatsApp jobs share within one worker process: the database, one Cloud API client (one connection
pool), one pacer and the blast sender built on them. ``whatsapp_hooks()`` gives ``on_startup`` / ``on_shutdown``;
without them the first job opens the runtime from the environment.

In a worker the pacer is the shared ``RedisPacer`` on the worker's own Redis connection and key prefix, so the
per-sender and per-recipient limits hold across every worker process; without a worker's Redis (a script) it is
the per-process ``LocalPacer``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queue_system import JobContext
from queue_system.runner import CTX_RUNTIME

from ..config import AppSettings
from ..db import Database
from ..worker_resources import Hook, resources_in
from .client import CloudApiClient, CloudApiSettings
from .pacing import LocalPacer, Pacer
from .sender import BlastSender
from .shared_pacing import RedisPacer

CTX_KEY = "whatsapp"


@dataclass
class WhatsAppRuntime:
    db: Database
    api: CloudApiClient
    sender: BlastSender

    async def close(self) -> None:
        await self.api.close()
        await self.db.dispose()


async def open_runtime(settings: AppSettings, ctx: JobContext | None = None) -> WhatsAppRuntime:
    db = Database(settings.resolved_database_url, schema=settings.database_schema)
    # httpx logs every request at INFO: thousands per blast would drown the job logs; its warnings still show.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    api = CloudApiClient(CloudApiSettings.from_app(settings))
    return WhatsAppRuntime(db, api, BlastSender(db, api, make_pacer(settings, ctx)))


def make_pacer(settings: AppSettings, ctx: JobContext | None) -> Pacer:
    """The shared pacer when running in a worker (its Redis and prefix in ``ctx``), else the local one."""
    worker: Any = (ctx or {}).get(CTX_RUNTIME)
    rate, interval = settings.whatsapp_messages_per_second, settings.whatsapp_recipient_interval_s
    if worker is None:
        return LocalPacer(rate, interval)
    sender = settings.whatsapp_phone_number_id or "-"
    return RedisPacer(worker.redis, worker.keys.prefix, sender, rate, interval)


def whatsapp_hooks(settings: Callable[[], AppSettings] = AppSettings.from_env) -> tuple[Hook, Hook]:
    async def on_startup(ctx: JobContext) -> None:
        ctx[CTX_KEY] = await open_runtime(settings(), ctx)

    async def on_shutdown(ctx: JobContext) -> None:
        runtime: WhatsAppRuntime | None = ctx.pop(CTX_KEY, None)
        if runtime is not None:
            await runtime.close()

    return on_startup, on_shutdown


async def runtime_from(ctx: JobContext) -> WhatsAppRuntime:
    return await resources_in(ctx, CTX_KEY, lambda: open_runtime(AppSettings.from_env(), ctx))
