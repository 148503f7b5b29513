"""The WhatsApp jobs wired to the framework, with real worker processes (tests/jobs/wire_settings.py), Redis, the
domain database (PostgreSQL: several processes write it at once) and the loopback Cloud API: a moved blast runs
once at its new time, a blast due during an outage is sent once by three starting workers, a worker killed
mid-blast is resumed without sending anyone twice, and the send limits hold across processes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from jobs.config import AppSettings
from jobs.db import Database
from jobs.db.whatsapp import BlastStatus, MessageStatus, WhatsAppBlast, WhatsAppDelivery
from jobs.whatsapp.blasts import BlastDraft, create_blast, delivery_counts, reschedule_blast
from jobs.whatsapp.jobs import QueueBlastScheduler
from queue_system import Client, QueueAPI

from ..support.processes import Spawn
from .cloud_api import CloudApi
from .conftest import DatabaseTarget
from .whatsapp_fixtures import add_template, cloud_api, number
from .wiring_support import WIRE_SETTINGS, blast_status, events, started, until, worker_env

__all__ = ["cloud_api"]
# Times are taken where the stand-in API receives the messages: a loaded 2-core machine delays single requests by a
# few hundred ms. Per-process limits would give windows of ~0.5 s (20/s) and 0 s between one person's messages, so
# this slack still tells shared limits from per-process ones.
SLACK_S = 0.4


@pytest.fixture
def database_target(postgres_target: DatabaseTarget) -> DatabaseTarget:
    """Several worker processes write the database at once: PostgreSQL (skipped where it is not reachable)."""
    return postgres_target


async def scheduled_blast(
    db: Database, client: Client, count: int, send_at: datetime, *, first: int = 0
) -> tuple[int, str]:
    template = await add_template(db)
    draft = BlastDraft("Promo", template.name, "id", [number(first + i) for i in range(count)], ["Siti"], send_at)
    created = await create_blast(db, draft, QueueBlastScheduler(client, QueueAPI(client)))
    assert created.job_id is not None
    return created.blast_id, created.job_id


async def test_a_blast_moved_from_2s_to_4s_runs_once_at_4s(
    database: Database,
    client: Client,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
    spawn: Spawn,
) -> None:
    api, url = cloud_api
    worker = spawn("w0", settings=WIRE_SETTINGS, **worker_env(app_settings, url))
    await started(worker)
    now = datetime.now(UTC)
    blast_id, job_id = await scheduled_blast(database, client, 10, now + timedelta(seconds=2))
    moved_to = now + timedelta(seconds=4)
    queue_api = QueueAPI(client)
    assert await reschedule_blast(database, blast_id, moved_to, QueueBlastScheduler(client, queue_api)) == 1
    assert (await queue_api.job(job_id)).due_at_ms == int(moved_to.timestamp() * 1000)
    blast = await blast_status(database, blast_id, BlastStatus.COMPLETED, timeout=15)
    info = await queue_api.job(job_id)
    assert blast.started_at is not None and blast.started_at >= moved_to
    assert info.state == "completed" and info.tries == 1 and (info.started_at_ms or 0) >= moved_to.timestamp() * 1000
    assert len(events([worker], "whatsapp.blast_started")) == 1 and not events([worker], "whatsapp.blast_skipped")
    assert api.accepted() == Counter({number(i): 1 for i in range(10)})


async def test_a_blast_due_during_an_outage_is_sent_once_by_three_starting_workers(
    database: Database,
    client: Client,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
    spawn: Spawn,
) -> None:
    api, url = cloud_api
    send_at = datetime.now(UTC) + timedelta(seconds=0.5)
    due_id, _ = await scheduled_blast(database, client, 12, send_at)
    # A second blast whose worker died mid-run: 4 sent, 1 in flight ("sending"), the rest pending.
    interrupted_id, _ = await scheduled_blast(database, client, 8, send_at, first=100)
    async with database.session() as session, session.begin():
        await session.execute(
            update(WhatsAppBlast).where(WhatsAppBlast.id == interrupted_id).values(status=BlastStatus.PROCESSING)
        )
        ids = list(
            await session.scalars(
                select(WhatsAppDelivery.id).where(WhatsAppDelivery.blast_id == interrupted_id).order_by("id")
            )
        )
        sent = WhatsAppDelivery.id.in_(ids[:4])
        await session.execute(update(WhatsAppDelivery).where(sent).values(status=MessageStatus.SENT))
        sending = WhatsAppDelivery.id == ids[4]
        await session.execute(update(WhatsAppDelivery).where(sending).values(status=MessageStatus.SENDING))
    await client.redis.flushall()  # the outage: Redis lost everything, the deferred job included
    await asyncio.sleep(max(0.0, (send_at - datetime.now(UTC)).total_seconds()) + 0.3)  # its time passes, no worker
    workers = [spawn(f"w{i}", settings=WIRE_SETTINGS, **worker_env(app_settings, url)) for i in range(3)]
    await started(*workers)
    await blast_status(database, due_id, BlastStatus.COMPLETED)
    await blast_status(database, interrupted_id, BlastStatus.COMPLETED)
    assert len(events(workers, "recovery.started")) == 1
    assert len(events(workers, "whatsapp.blast_recovered")) == 2
    assert len(events(workers, "whatsapp.blast_started")) == 2
    expected = {number(i): 1 for i in range(12)} | {number(100 + i): 1 for i in range(5, 8)}
    assert api.accepted() == Counter(expected)  # the 4 sent before are not sent again, the one in flight neither
    assert await delivery_counts(database, interrupted_id) == {"sent": 7, "unknown": 1}


async def test_a_worker_killed_mid_blast_is_resumed_without_sending_anyone_twice(
    database: Database,
    client: Client,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
    spawn: Spawn,
) -> None:
    api, url = cloud_api
    env = worker_env(app_settings, url, QS_LEASE_S="2")
    first = spawn("w0", settings=WIRE_SETTINGS, **env)
    await started(first)
    api.gate.clear()  # hold the first messages in flight
    blast_id, _ = await scheduled_blast(database, client, 150, datetime.now(UTC))

    async def in_flight() -> bool:
        return api.held >= 10

    await until(in_flight, 15, "messages in flight")
    first.kill()
    api.gate.set()  # what was in flight is taken by the API although its sender died: maybe delivered
    second = spawn("w1", settings=WIRE_SETTINGS, **env)
    blast = await blast_status(database, blast_id, BlastStatus.COMPLETED, timeout=20)
    counts = await delivery_counts(database, blast_id)
    assert max(api.accepted().values()) == 1  # nobody messaged twice
    assert counts["sent"] + counts["unknown"] == 150 and 0 < counts["unknown"] <= 64  # at most the dead window
    assert blast.sent_count == counts["sent"] and len(api.messages) >= counts["sent"]
    assert events([second], "whatsapp.blast_started")  # the job came back after its lease, in the new worker


async def test_sender_and_recipient_limits_hold_across_worker_processes(
    database: Database,
    client: Client,
    app_settings: AppSettings,
    cloud_api: tuple[CloudApi, str],
    spawn: Spawn,
) -> None:
    api, url = cloud_api
    env = worker_env(app_settings, url, WHATSAPP_MESSAGES_PER_SECOND="10", WHATSAPP_RECIPIENT_INTERVAL_S="1.5")
    workers = [spawn(f"w{i}", "-c", "1", settings=WIRE_SETTINGS, **env) for i in range(2)]
    await started(*workers)
    now = datetime.now(UTC)
    blasts = [(await scheduled_blast(database, client, 12, now))[0] for _ in range(2)]  # the same 12 people
    for blast_id in blasts:
        await blast_status(database, blast_id, BlastStatus.COMPLETED, timeout=20)
    assert all(worker.events("whatsapp.blast_started") for worker in workers)  # one blast in each process
    times = sorted(m.at for m in api.messages)
    assert len(times) == 24
    # Sender: 10 per second across both processes (per process, 20 would go in the first second). Times are when
    # the stand-in received them: HTTP adds jitter (the first requests open connections), hence the slack.
    offsets = [round(t - times[0], 3) for t in times]
    assert all(times[i + 10] - times[i] >= 1 - SLACK_S for i in range(len(times) - 10)), offsets
    assert times[-1] - times[0] >= 2 - SLACK_S, offsets
    by_person: dict[str, list[float]] = {}
    for message in api.messages:
        by_person.setdefault(message.to, []).append(message.at)
    # Recipient: each person got both blasts' messages, 1.5 s apart at least.
    assert all(len(t) == 2 and abs(t[1] - t[0]) >= 1.5 - SLACK_S for t in by_person.values()), by_person
