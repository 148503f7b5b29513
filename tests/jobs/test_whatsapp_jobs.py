"""The WhatsApp jobs through the real worker and Redis, against the loopback Cloud API: a scheduled blast goes out
once, a moved blast only by its new job, and template sync settles SUBMITTED templates."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from jobs.config import AppSettings
from jobs.db import Database
from jobs.db.whatsapp import BlastStatus, TemplateStatus, WhatsAppBlast, WhatsAppTemplate
from jobs.queues import TEMPLATE_SYNC, WHATSAPP_BLAST
from jobs.whatsapp.blasts import BlastDraft, create_blast, reschedule_blast
from jobs.whatsapp.jobs import (
    WHATSAPP_JOBS,
    QueueBlastScheduler,
    send_whatsapp_blast,
    sync_whatsapp_templates,
    whatsapp_crons,
)
from jobs.whatsapp.runtime import CTX_KEY, whatsapp_hooks
from queue_system import Client, JobContext, QueueAPI, QueueConfig, worker_settings

from ..support.queue_fixtures import run_burst
from .cloud_api import PHONE_NUMBER_ID, TOKEN, VERSION, WABA_ID, CloudApi
from .whatsapp_fixtures import add_template, cloud_api, number

__all__ = ["cloud_api"]


def whatsapp_worker(config: QueueConfig, settings: AppSettings, url: str, *, max_throttle_wait_s: float = 30) -> type:
    cloud = settings.model_copy(
        update={
            "whatsapp_api_url": url,
            "whatsapp_token": TOKEN,
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_waba_id": WABA_ID,
            "whatsapp_api_version": VERSION,
            "whatsapp_messages_per_second": 0,
        }
    )
    open_runtime, on_shutdown = whatsapp_hooks(lambda: cloud)

    async def on_startup(ctx: JobContext) -> None:
        await open_runtime(ctx)
        ctx[CTX_KEY].sender.max_throttle_wait_s = max_throttle_wait_s  # what the sender waits in-line at most

    return worker_settings(
        jobs=WHATSAPP_JOBS,
        queues=[WHATSAPP_BLAST, TEMPLATE_SYNC],
        config=config,
        concurrency=2,
        poll_delay_s=0.01,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )


async def test_a_moved_blast_is_sent_once_by_its_moved_job(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
) -> None:
    api, url = cloud_api
    template = await add_template(database)
    async with await QueueAPI.connect(config) as queue_api:
        scheduler = QueueBlastScheduler(client, queue_api)
        later = datetime.now(UTC) + timedelta(minutes=10)
        draft = BlastDraft("Promo", template.name, "id", [number(i) for i in range(25)], ["Budi"], later)
        created = await create_blast(database, draft, scheduler)
        now = datetime.now(UTC)
        assert await reschedule_blast(database, created.blast_id, now, scheduler) == 1  # the same job, moved
        assert created.job_id is not None
        assert (await queue_api.job(created.job_id)).due_at_ms == int(now.timestamp() * 1000)
    worker = whatsapp_worker(config, app_settings, url)
    await run_burst(worker)
    async with database.session() as session:
        blast = await session.get(WhatsAppBlast, created.blast_id)
    assert blast is not None and blast.status == BlastStatus.COMPLETED and blast.sent_count == 25
    assert sorted(api.accepted()) == sorted(number(i) for i in range(25))
    # A second job of the same blast (enqueued by hand here) finds it COMPLETED and sends nothing.
    await send_whatsapp_blast.options(client=client, job_id="escaped-v1").enqueue(created.blast_id, 1)
    await run_burst(worker)
    assert len(api.messages) == 25


async def test_template_sync_settles_submitted_templates(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
) -> None:
    api, url = cloud_api
    names = {status: (await add_template(database, TemplateStatus.SUBMITTED)).name for status in ("A", "R", "P", "M")}
    approved_before = await add_template(database, TemplateStatus.APPROVED)
    api.templates = [
        {"id": "1", "name": names["A"], "language": "id", "status": "APPROVED", "category": "MARKETING"},
        {"id": "2", "name": names["R"], "language": "id", "status": "REJECTED", "rejected_reason": "PROMOTIONAL"},
        {"id": "3", "name": names["P"], "language": "id", "status": "PENDING", "category": "MARKETING"},
        {"id": "4", "name": approved_before.name, "language": "id", "status": "PAUSED", "category": "MARKETING"},
    ]
    await sync_whatsapp_templates.options(client=client).enqueue()
    await run_burst(whatsapp_worker(config, app_settings, url))
    async with database.session() as session:
        rows = {t.name: t for t in (await session.scalars(select(WhatsAppTemplate))).all()}
    assert (rows[names["A"]].status, rows[names["A"]].external_id) == (TemplateStatus.APPROVED, "1")
    assert (rows[names["R"]].status, rows[names["R"]].rejection_reason) == (TemplateStatus.REJECTED, "PROMOTIONAL")
    assert rows[names["P"]].status == rows[names["M"]].status == TemplateStatus.SUBMITTED
    assert rows[names["P"]].synced_at is not None
    assert rows[approved_before.name].status == TemplateStatus.APPROVED  # only SUBMITTED ones are synced


async def test_a_long_throttle_postpones_the_blast_without_using_a_try(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
) -> None:
    api, url = cloud_api
    api.retry_after = "1"  # longer than this sender waits in-line (0.5 s): the run ends with SlowDown
    api.throttle["6281200000003"] = 1
    template = await add_template(database)
    queue_api = QueueAPI(client)
    draft = BlastDraft("Promo", template.name, "id", [number(i) for i in range(6)], ["Budi"], datetime.now(UTC))
    created = await create_blast(database, draft, QueueBlastScheduler(client, queue_api))
    assert created.job_id is not None
    await run_burst(whatsapp_worker(config, app_settings, url, max_throttle_wait_s=0.5))  # waits for it to return
    info = await queue_api.job(created.job_id)
    assert info.state == "completed" and info.tries == 1  # the postponed run did not count as a try
    assert (await queue_api.postponed())[send_whatsapp_blast.name] == 1
    assert (info.started_at_ms or 0) - (info.enqueued_at_ms or 0) >= 1000  # it came back after Retry-After
    async with database.session() as session:
        blast = await session.get(WhatsAppBlast, created.blast_id)
    assert blast is not None and blast.status == BlastStatus.COMPLETED and blast.sent_count == 6
    assert api.accepted() == Counter({number(i): 1 for i in range(6)})


def test_template_sync_is_a_30_minute_cron_when_the_api_is_configured() -> None:
    assert whatsapp_crons(AppSettings(whatsapp_token="")) == []
    (sync,) = whatsapp_crons(AppSettings(whatsapp_token="t"))
    assert sync.function == sync_whatsapp_templates.name
    trigger, ticks = sync.trigger(), [int(datetime(2026, 11, 22, 9, 1, tzinfo=UTC).timestamp() * 1000)]
    for _ in range(3):
        ticks.append(trigger.next_after(ticks[-1]))
    ticks = ticks[1:]
    assert sync.misfire == "run_once"
    assert [datetime.fromtimestamp(t / 1000, UTC).strftime("%H:%M") for t in ticks] == ["09:30", "10:00", "10:30"]
