"""``queue-system demo certificates``: the seed's 3000-participant test, end to end, with progress bars.

It creates a test event whose participants have fake names (several scripts) and addresses on the reserved
``example.test`` domain, queues one certificate job per participant and waits for them, then queues one email
job per participant and waits for those, printing the time of each stage. Progress is read from the database,
the source of truth, not from the queue.

By default it runs its own worker in this process (burst mode, one stage at a time), so it needs nothing but
Redis; ``--workers N`` starts N worker processes per stage instead (rendering is CPU work: one process per core);
with ``--external-worker`` it only enqueues and watches, for a running ``queue-system worker``. The in-process
worker opens its runtime once for both stages, so its render processes (``cpu_pool``) start once. Unless
``SMTP_URL`` is set, the emails go to a mail sink in its own process, writing ``.eml`` files.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import click
from faker import Faker
from sqlalchemy import insert

from queue_system import Client, FailedFilter, JobContext, JobFunction, QueueConfig, worker_settings
from queue_system.logging_setup import configure_logging
from queue_system.worker import create_worker

from ..config import AppSettings
from ..db import Database, Event, Participant
from ..db.migrate import upgrade
from .jobs import CERTIFICATE_JOBS, generate_certificate, send_certificate_email
from .runtime import CTX_KEY, CertificateRuntime, open_runtime
from .service import QueueReport, delete_event, event_progress, queue_event_certificates, queue_event_emails
from .storage import CertificateStorage

DEMO_DOMAIN = "example.test"  # reserved for testing (RFC 2606): nothing is ever delivered there
# Locales whose names the certificate font covers: Indonesian (the seed's), Vietnamese, Russian, Spanish,
# Turkish and Greek.
NAME_LOCALES = ("id_ID", "id_ID", "id_ID", "vi_VN", "ru_RU", "es_ES", "tr_TR", "el_GR")
POLL_S = 0.2
SINK_START_TIMEOUT_S = 30
QueueCall = Callable[..., Awaitable[QueueReport]]


@dataclass(frozen=True)
class DemoOptions:
    participants: int
    cleanup: bool
    external_worker: bool
    workers: int
    generate_concurrency: int
    send_concurrency: int
    seed: int | None


@dataclass(frozen=True)
class StageResult:
    name: str
    queued: int
    done: int
    failed: int
    seconds: float

    def line(self, unit: str) -> str:
        rate = self.done / self.seconds if self.seconds else 0.0
        return (
            f"{self.name:<9} {self.queued} queued, {self.done} {unit}, {self.failed} failed "
            f"in {self.seconds:.1f} s ({rate:.1f}/s)"
        )


def fake_names(count: int, seed: int | None = None) -> list[str]:
    """Plausible names in several scripts (deterministic for a given seed)."""
    rng = random.Random(seed)
    fakers = {locale: Faker(locale) for locale in set(NAME_LOCALES)}
    for index, faker in enumerate(fakers.values()):
        faker.seed_instance(None if seed is None else seed + index)
    return [fakers[rng.choice(NAME_LOCALES)].name() for _ in range(count)]


async def create_demo_event(db: Database, participants: int, *, seed: int | None = None) -> Event:
    """The test event and its participants, in two statements (a bulk insert for the participants)."""
    tag = uuid.uuid4().hex[:8]
    names = await asyncio.to_thread(fake_names, participants, seed)
    async with db.session() as session, session.begin():
        event = Event(
            code=f"DEMO-{participants}-{tag}",
            name=f"Kegiatan Test {participants} Peserta",
            held_on=date.today(),
            certificate_title="Certificate of Participation",
        )
        session.add(event)
        await session.flush()
        rows = [
            {"event_id": event.id, "name": name, "email": f"participant{i}.{tag}@{DEMO_DOMAIN}"}
            for i, name in enumerate(names, start=1)
        ]
        await session.execute(insert(Participant), rows)
    return event


async def run_demo(options: DemoOptions, settings: AppSettings, config: QueueConfig) -> None:
    configure_logging(fmt=config.effective_log_format, level=config.log_level)  # as the worker will, before it
    db = Database(settings.resolved_database_url, schema=settings.database_schema)
    storage = CertificateStorage(settings.resolved_certificate_dir)
    sink: asyncio.subprocess.Process | None = None
    try:
        await upgrade(db)
        event = await create_demo_event(db, options.participants, seed=options.seed)
        sink_dir = settings.resolved_mail_sink_dir / f"event-{event.id}"
        if not options.external_worker and not _smtp_configured():
            sink, sink_url = await start_sink_process(sink_dir)
            settings = settings.model_copy(update={"smtp_url": sink_url})
        click.echo(
            f"event {event.id} {event.name!r} ({event.code}): {options.participants} participants @{DEMO_DOMAIN}"
        )
        async with await Client.connect(config) as client:
            stages = await _run_stages(db, event.id, options, settings, config, client)
        for stage, unit in zip(stages, ("generated", "accepted"), strict=True):
            click.echo(stage.line(unit))
        click.echo(f"total     {sum(s.seconds for s in stages):.1f} s")
        if options.cleanup:
            await delete_event(db, storage, event.id)
            shutil.rmtree(sink_dir, ignore_errors=True)
            click.echo(f"cleaned up: event {event.id}, its rows, certificates and stored emails")
        else:
            click.echo(f"certificates: {storage.root / f'event-{event.id}'}")
            if sink is not None:
                click.echo(f"emails:       {sink_dir}")
    finally:
        if sink is not None:
            sink.terminate()
            await sink.wait()
        await db.dispose()


async def start_sink_process(directory: Path) -> tuple[asyncio.subprocess.Process, str]:
    """The mail sink (``python -m jobs.mail_sink``) in its own process, on a free port; its SMTP URL.

    Its own process, so receiving and storing 3000 messages does not take CPU from the worker that sends them.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jobs.mail_sink", "--port", "0", "--dir", str(directory), stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    announced = (await asyncio.wait_for(process.stderr.readline(), SINK_START_TIMEOUT_S)).decode()
    found = re.search(r"smtp://\S+", announced)
    if found is None:
        process.kill()
        await process.wait()
        raise click.ClickException(f"the mail sink did not start: {announced.strip() or 'no output'}")
    return process, found.group(0)


async def _run_stages(
    db: Database, event_id: int, options: DemoOptions, settings: AppSettings, config: QueueConfig, client: Client
) -> list[StageResult]:
    runtime = None if options.external_worker or options.workers > 1 else await open_runtime(settings)
    if runtime is not None:
        runtime.cpu.start()  # its processes load the font while the first stage is being queued
    worker_class = _worker_class(config, runtime)

    async def generated() -> int:
        return (await event_progress(db, event_id)).certificates_generated

    async def accepted() -> int:
        return (await event_progress(db, event_id)).emails_accepted

    results = []
    sender = {"sender": settings.mail_from}  # the delivery rows are created when the emails are queued
    plan: list[tuple[str, JobFunction[Any, Any], QueueCall, dict[str, Any], Callable[[], Awaitable[int]], int]] = [
        ("generate", generate_certificate, queue_event_certificates, {}, generated, options.generate_concurrency),
        ("send", send_certificate_email, queue_event_emails, sender, accepted, options.send_concurrency),
    ]
    try:
        for name, function, queue_call, extra, count_done, concurrency in plan:
            started = time.perf_counter()
            report = await queue_call(db, event_id, client=client, **extra)
            worker_task = _start_workers(options, function.spec.queue, concurrency, settings, worker_class)
            count_failed = _failed_counter(client, function, event_id)
            done, failed = await _watch(name, report.total, count_done, count_failed, worker_task)
            results.append(StageResult(name, report.queued, done, failed, time.perf_counter() - started))
    finally:
        if runtime is not None:
            await runtime.close()
    return results


def _worker_class(config: QueueConfig, runtime: CertificateRuntime | None) -> type:
    """The in-process worker's settings, handing every stage's worker the one runtime (and its render processes)."""

    async def on_startup(ctx: JobContext) -> None:
        if runtime is not None:
            ctx[CTX_KEY] = runtime

    async def on_shutdown(ctx: JobContext) -> None:
        ctx.pop(CTX_KEY, None)  # closed by the demo after the last stage

    return worker_settings(
        jobs=CERTIFICATE_JOBS, config=config, on_startup=on_startup, on_shutdown=on_shutdown, poll_delay_s=0.02
    )


def _start_workers(
    options: DemoOptions, queue: str, concurrency: int, settings: AppSettings, worker_class: type
) -> asyncio.Task[None] | None:
    """The stage's workers: N processes, one in this process, or none (someone else's)."""
    if options.workers > 1:
        return asyncio.create_task(_run_processes(options.workers, queue, concurrency, settings))
    if options.external_worker:
        return None
    worker = create_worker(worker_class, queues=[queue], concurrency=concurrency, burst=True, handle_signals=False)
    return asyncio.create_task(_run_worker(worker))


async def _run_processes(count: int, queue: str, concurrency: int, settings: AppSettings) -> None:
    """``count`` burst worker processes for ``queue``; returns when all have drained it and exited."""
    env = {**os.environ, **settings.to_env()}
    env.setdefault("QS_LOG_LEVEL", "WARNING")
    command = [sys.executable, "-m", "jobs.certificates.burst_worker", "--queue", queue]
    processes = [
        await asyncio.create_subprocess_exec(*command, "--concurrency", str(concurrency), env=env) for _ in range(count)
    ]
    codes = [await process.wait() for process in processes]
    if any(codes):
        raise click.ClickException(f"a worker process for {queue} exited with status {max(codes)}")


async def _run_worker(worker: Any) -> None:
    try:
        await worker.async_run()
    finally:
        await worker.close()


def _failed_counter(client: Client, function: JobFunction[Any, Any], event_id: int) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        page = await client.failed.list(FailedFilter(function=function.name, tags={"event_id": str(event_id)}), limit=1)
        return page.total

    return count


async def _watch(
    label: str,
    total: int,
    count_done: Callable[[], Awaitable[int]],
    count_failed: Callable[[], Awaitable[int]],
    worker_task: asyncio.Task[None] | None,
) -> tuple[int, int]:
    """A progress bar fed by polling the database, until every job is done or failed (or the worker exits)."""
    shown = 0
    with click.progressbar(length=total, label=f"{label:<9}", show_pos=True, show_eta=True) as bar:
        while True:
            done, failed = await count_done(), await count_failed()
            bar.update(done - shown)
            shown = done
            finished = done + failed >= total or (worker_task is not None and worker_task.done())
            if finished:
                break
            await asyncio.sleep(POLL_S)
    if worker_task is not None:
        await worker_task  # re-raises a worker crash
        done, failed = await count_done(), await count_failed()
    return done, failed


def _smtp_configured() -> bool:
    return bool(os.environ.get("SMTP_URL", "").strip())
