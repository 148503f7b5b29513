"""Helpers for the wiring tests: worker processes running tests/jobs/wire_settings.py against the test's database
and the loopback Cloud API, and waits that keep the test's event loop (which serves that API) running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from jobs.config import AppSettings
from jobs.db import Database
from jobs.db.whatsapp import WhatsAppBlast

from ..support.processes import WorkerProcess
from .cloud_api import PHONE_NUMBER_ID, TOKEN, VERSION, WABA_ID

WIRE_SETTINGS = "tests.jobs.wire_settings.WorkerSettings"


def worker_env(settings: AppSettings, cloud_url: str, **extra: str) -> dict[str, str]:
    """The application settings of a worker process: the test's database, the loopback API, seed pacing off."""
    env = settings.to_env()
    env.update(
        WHATSAPP_API_URL=cloud_url,
        WHATSAPP_TOKEN=TOKEN,
        WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
        WHATSAPP_WABA_ID=WABA_ID,
        WHATSAPP_API_VERSION=VERSION,
        WHATSAPP_MESSAGES_PER_SECOND="0",
        WHATSAPP_RECIPIENT_INTERVAL_S="0",
    )
    env.update(extra)
    return env


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


async def started(*workers: WorkerProcess, timeout: float = 30) -> None:
    """Every worker logged ``worker.started`` (without blocking the loop, unlike ``wait_for_event``)."""

    async def check() -> bool:
        for worker in workers:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker exited ({worker.process.returncode}):\n{worker.log()}")
        return all(worker.events("worker.started") for worker in workers)

    await until(check, timeout, "worker start")


def events(workers: Sequence[WorkerProcess], name: str) -> list[dict[str, object]]:
    return [event for worker in workers for event in worker.events(name)]


async def blast_row(db: Database, blast_id: int) -> WhatsAppBlast:
    async with db.session() as session:
        blast = await session.get(WhatsAppBlast, blast_id)
    assert blast is not None
    return blast


async def blast_status(db: Database, blast_id: int, *statuses: str, timeout: float = 20) -> WhatsAppBlast:
    async def check() -> bool:
        return (await blast_row(db, blast_id)).status in statuses

    await until(check, timeout, f"blast {blast_id} in {statuses}")
    return await blast_row(db, blast_id)
