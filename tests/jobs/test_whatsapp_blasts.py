"""Blasts on SQLite and PostgreSQL against the loopback Cloud API: creation, rescheduling, the send core, resumes.

The invariant under test throughout: the API never receives two messages to one recipient for one blast.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from jobs.db import Database
from jobs.db.whatsapp import BlastStatus, MessageStatus, TemplateStatus, WhatsAppBlast, WhatsAppDelivery
from jobs.whatsapp.blasts import (
    BlastDraft,
    blast_job_id,
    cancel_blast,
    create_blast,
    delivery_counts,
    due_blasts,
    release_unknown_deliveries,
    reschedule_blast,
    update_blast,
)
from jobs.whatsapp.client import CloudApiClient
from jobs.whatsapp.errors import (
    BlastIncomplete,
    BlastNotEditable,
    BlastThrottled,
    NoValidRecipients,
    TemplateNotApproved,
    TemplateNotFound,
    TemplateVariablesMismatch,
)
from jobs.whatsapp.pacing import LocalPacer
from jobs.whatsapp.sender import BlastSender
from jobs.whatsapp.templates import parameter_count, sync_templates

from .cloud_api import CloudApi
from .whatsapp_fixtures import add_template, api_client, cloud_api, cloud_settings, number

__all__ = ["api_client", "cloud_api"]

SOON = datetime.now(UTC) + timedelta(hours=1)
DUE = datetime.now(UTC) - timedelta(minutes=1)  # a blast whose time came: what a send run finds


class RecordingScheduler:
    """The BlastScheduler seam as the service drives it: what was scheduled, and what taken off."""

    def __init__(self, *, movable: bool = True) -> None:
        self.scheduled: list[tuple[int, int, datetime]] = []
        self.unscheduled: list[str] = []
        self.moved: list[tuple[str, datetime]] = []
        self.movable = movable

    async def move(self, job_id: str, send_at: datetime) -> bool:
        if self.movable:
            self.moved.append((job_id, send_at))
        return self.movable

    async def schedule(self, blast_id: int, blast_uid: str, version: int, send_at: datetime) -> str:
        self.scheduled.append((blast_id, version, send_at))
        return blast_job_id(blast_uid, version)

    async def unschedule(self, job_id: str) -> None:
        self.unscheduled.append(job_id)


def sender(db: Database, client: CloudApiClient, **options: float) -> BlastSender:
    return BlastSender(db, client, LocalPacer(0, 0), **{"window": 16, "concurrency": 8, **options})  # type: ignore[arg-type]


async def new_blast(
    db: Database, count: int, *, send_at: datetime | None = DUE, variables: tuple[str, ...] = ()
) -> int:
    template = await add_template(db)
    draft = BlastDraft("Promo", template.name, "id", [number(i) for i in range(count)], variables, send_at)
    return (await create_blast(db, draft)).blast_id


async def load(db: Database, blast_id: int) -> WhatsAppBlast:
    async with db.session() as session:
        blast = await session.get(WhatsAppBlast, blast_id)
        assert blast is not None
        return blast


async def deliveries(db: Database, blast_id: int) -> dict[str, WhatsAppDelivery]:
    async with db.session() as session:
        rows = await session.scalars(select(WhatsAppDelivery).where(WhatsAppDelivery.blast_id == blast_id))
        return {row.phone: row for row in rows}


async def test_creating_a_blast_keeps_valid_numbers_and_reports_the_rest(database: Database) -> None:
    template = await add_template(database)
    scheduler = RecordingScheduler()
    numbers = [number(1), "0812 0000 0002", number(1), "0812", "not-a-number"]
    draft = BlastDraft("Promo", template.name, "id", numbers, ["Siti"], SOON, default_region="ID")
    created = await create_blast(database, draft, scheduler)
    assert created.status == BlastStatus.SCHEDULED and created.total_recipients == 2 and created.duplicates == 1
    assert [(r.input, r.reason) for r in created.rejected] == [
        ("0812", "not a possible number (wrong length for its country)"),
        ("not-a-number", "not a phone number"),
    ]
    blast = await load(database, created.blast_id)
    assert blast.schedule_version == 1 and blast.job_id == created.job_id == blast_job_id(blast.uid, 1)
    assert scheduler.scheduled == [(created.blast_id, 1, SOON)]
    ledger = await deliveries(database, created.blast_id)
    assert sorted(ledger) == [number(1), number(2)]
    assert {d.status for d in ledger.values()} == {MessageStatus.PENDING}


async def test_a_blast_needs_an_approved_template_and_a_valid_number(database: Database) -> None:
    submitted = await add_template(database, TemplateStatus.SUBMITTED)
    with pytest.raises(TemplateNotApproved, match="SUBMITTED"):
        await create_blast(database, BlastDraft("x", submitted.name, "id", [number(1)]))
    with pytest.raises(TemplateNotFound):
        await create_blast(database, BlastDraft("x", "no_such_template", "id", [number(1)]))
    approved = await add_template(database)
    with pytest.raises(NoValidRecipients, match="'12345'"):
        await create_blast(database, BlastDraft("x", approved.name, "id", ["12345"]))


def test_a_templates_parameters_are_its_numbered_placeholders() -> None:
    assert parameter_count("Halo {{1}}, diskon {{2}} untuk {{1}}") == 2
    assert parameter_count("Promo {{ 3 }} {{1}} {{2}}") == 3
    assert parameter_count("Tanpa variabel, {{nama}} bukan parameter bernomor") == 0


async def test_the_variables_must_fill_the_templates_body_parameters(database: Database) -> None:
    template = await add_template(database, body="Halo {{1}}, diskon {{2}} sampai akhir bulan")
    one = BlastDraft("x", template.name, "id", [number(1)], ["Siti"])
    with pytest.raises(TemplateVariablesMismatch, match=r"takes 2 variable\(s\).*1 given"):
        await create_blast(database, one)
    created = await create_blast(database, BlastDraft("x", template.name, "id", [number(1)], ["Siti", "50%"]))
    with pytest.raises(TemplateVariablesMismatch, match="3 given"):
        await update_blast(database, created.blast_id, name="renamed", variables=["a", "b", "c"])
    blast = await load(database, created.blast_id)
    assert (blast.name, blast.variables) == ("x", ["Siti", "50%"])  # the refused update changed nothing
    await update_blast(database, created.blast_id, variables=["Budi", "30%"])
    assert (await load(database, created.blast_id)).variables == ["Budi", "30%"]
    unsynced = await add_template(database)  # no body known yet: not checked here
    await create_blast(database, BlastDraft("x", unsynced.name, "id", [number(1)], ["anything"]))


async def test_template_sync_records_the_body_the_variables_are_checked_against(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    submitted = await add_template(database, TemplateStatus.SUBMITTED)
    approved = await add_template(database)  # approved before bodies were kept
    body = [{"type": "HEADER", "format": "TEXT", "text": "Promo {{1}}"}, {"type": "BODY", "text": "Halo {{1}}"}]
    api.templates = [
        {"id": "1", "name": submitted.name, "language": "id", "status": "APPROVED", "components": body},
        {"id": "2", "name": approved.name, "language": "id", "status": "APPROVED", "components": body[1:]},
    ]
    report = await sync_templates(database, api_client)
    assert (report.approved, report.bodies) == ([f"{submitted.name}/id"], 2)
    with pytest.raises(TemplateVariablesMismatch, match="takes 1 variable"):
        await create_blast(database, BlastDraft("x", approved.name, "id", [number(1)], []))
    await create_blast(database, BlastDraft("x", submitted.name, "id", [number(1)], ["Siti"]))
    requests = len(api.requests)
    assert (await sync_templates(database, api_client)).bodies == 0
    assert len(api.requests) == requests  # every template has its verdict and body: nothing to ask


async def test_a_moved_blast_keeps_its_job_or_gets_a_new_one_when_it_cannot_move(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    template = await add_template(database)
    scheduler = RecordingScheduler()
    draft = BlastDraft("Promo", template.name, "id", [number(i) for i in range(3)], send_at=SOON)
    created = await create_blast(database, draft, scheduler)
    later = SOON + timedelta(hours=1)
    assert await reschedule_blast(database, created.blast_id, later, scheduler) == 1  # moved: same job, version
    assert scheduler.moved == [(created.job_id, later)] and scheduler.unscheduled == []
    early = await sender(database, api_client).run(created.blast_id, version=1)  # claimed before it was moved
    assert early.skipped and "not due yet" in early.skipped and cloud_api[0].messages == []
    stuck = RecordingScheduler(movable=False)  # the job started or is gone: a new version and a new job
    version = await reschedule_blast(database, created.blast_id, datetime.now(UTC), stuck)
    assert version == 2 and stuck.scheduled[0][:2] == (created.blast_id, 2)
    stale = await sender(database, api_client).run(created.blast_id, version=1)
    assert stale.skipped and "stale" in stale.skipped and cloud_api[0].messages == []
    await update_blast(database, created.blast_id, name="Promo 12.12", variables=["Budi"])
    done = await sender(database, api_client).run(created.blast_id, version=2)
    assert done.status == BlastStatus.COMPLETED and done.sent_now == 3
    assert [m.variables for m in cloud_api[0].messages] == [["Budi"]] * 3
    with pytest.raises(BlastNotEditable):
        await update_blast(database, created.blast_id, name="too late")
    with pytest.raises(BlastNotEditable):
        await reschedule_blast(database, created.blast_id, SOON, scheduler)


async def test_a_cancelled_blast_is_never_sent(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    template = await add_template(database)
    scheduler = RecordingScheduler()
    created = await create_blast(database, BlastDraft("P", template.name, "id", [number(1)], send_at=SOON), scheduler)
    await cancel_blast(database, created.blast_id, scheduler)
    assert scheduler.unscheduled == [created.job_id]
    outcome = await sender(database, api_client).run(created.blast_id, version=1)
    assert outcome.status == BlastStatus.CANCELLED and outcome.skipped
    outcome = await sender(database, api_client).run(created.blast_id)
    assert outcome.skipped and cloud_api[0].requests == []


async def test_a_blast_goes_out_once_through_throttling_server_errors_and_refusals(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    api.retry_after = "0.2"
    blast_id = await new_blast(database, 40, variables=("Siti", "50%"))
    digits = [number(i).lstrip("+") for i in range(40)]
    api.throttle[digits[3]] = 1
    api.throttle_code[digits[17]] = 1
    api.server_error[digits[5]] = 1
    api.refuse[digits[8]] = (131026, "Message undeliverable")
    with pytest.raises(BlastIncomplete, match="1 recipient"):  # the 5xx one waits for the job's next try
        await sender(database, api_client).run(blast_id)
    assert (await load(database, blast_id)).status == BlastStatus.PROCESSING
    outcome = await sender(database, api_client).run(blast_id)
    assert outcome.status == BlastStatus.COMPLETED and outcome.sent_now == 1
    assert outcome.counts == {MessageStatus.SENT: 39, MessageStatus.FAILED: 1}
    assert api.accepted() == Counter({number(i): 1 for i in range(40) if i != 8})
    assert all(m.variables == ["Siti", "50%"] for m in api.messages)
    ledger = await deliveries(database, blast_id)
    refused = ledger[number(8)]
    assert (refused.status, refused.error_code) == (MessageStatus.FAILED, 131026)
    assert "Message undeliverable" in (refused.error_message or "")
    assert ledger[number(3)].attempts == 1 and ledger[number(5)].attempts == 2  # a throttle is not an attempt
    assert {m.message_id for m in api.messages} == {d.message_id for d in ledger.values() if d.message_id}
    blast = await load(database, blast_id)
    assert (blast.sent_count, blast.failed_count, blast.finished_at is not None) == (39, 1, True)
    assert (await sender(database, api_client).run(blast_id)).skipped  # finished: a re-run sends nothing
    assert len(api.messages) == 39


async def test_a_recipient_that_keeps_failing_with_5xx_fails_after_its_attempts(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    blast_id = await new_blast(database, 3)
    api.server_error[number(1).lstrip("+")] = 99
    for _ in range(2):
        with pytest.raises(BlastIncomplete):
            await sender(database, api_client, max_attempts=3).run(blast_id)
    outcome = await sender(database, api_client, max_attempts=3).run(blast_id)
    assert outcome.status == BlastStatus.COMPLETED
    failed = (await deliveries(database, blast_id))[number(1)]
    assert (failed.status, failed.attempts, failed.error_code) == (MessageStatus.FAILED, 3, 131000)


async def test_a_refused_token_fails_the_blast_and_sends_nothing(
    database: Database, cloud_api: tuple[CloudApi, str]
) -> None:
    blast_id = await new_blast(database, 20)
    client = CloudApiClient(cloud_settings(cloud_api[1], token="expired"))
    try:
        outcome = await sender(database, client).run(blast_id)
    finally:
        await client.close()
    blast = await load(database, blast_id)
    assert outcome.status == blast.status == BlastStatus.FAILED
    assert "190" in (blast.last_error or "")
    ledger = await deliveries(database, blast_id)
    assert {(d.status, d.attempts) for d in ledger.values()} == {(MessageStatus.PENDING, 0)}
    assert cloud_api[0].messages == []


async def test_a_long_throttle_ends_the_run_to_be_retried_later(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    api.retry_after = "120"
    blast_id = await new_blast(database, 10)
    api.throttle[number(0).lstrip("+")] = 1
    with pytest.raises(BlastThrottled) as caught:
        await sender(database, api_client, window=1, concurrency=1).run(blast_id)
    assert caught.value.retry_after_s == 120
    assert (await load(database, blast_id)).status == BlastStatus.PROCESSING
    assert await delivery_counts(database, blast_id) == {MessageStatus.PENDING: 10}
    outcome = await sender(database, api_client).run(blast_id)  # later: Meta lets us send again
    assert outcome.status == BlastStatus.COMPLETED and len(api.messages) == 10


async def test_a_run_killed_mid_blast_resumes_without_sending_anyone_twice(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    blast_id = await new_blast(database, 150)
    run = asyncio.create_task(sender(database, api_client, window=10, concurrency=5).run(blast_id))
    while len(api.messages) < 40:
        await asyncio.sleep(0.005)
    api.gate.clear()  # the API stops answering: the run's current window is in flight
    while api.held < 3:
        await asyncio.sleep(0.005)
    run.cancel()  # as a killed worker: the rows it claimed stay "sending"
    with pytest.raises(asyncio.CancelledError):
        await run
    api.gate.set()  # the API takes the messages it held although nobody hears the answers
    await asyncio.sleep(0.05)
    outcome = await sender(database, api_client).run(blast_id)
    assert outcome.status == BlastStatus.COMPLETED
    counts = outcome.counts
    assert counts[MessageStatus.SENT] + counts.get(MessageStatus.UNKNOWN, 0) == 150
    assert 0 < counts.get(MessageStatus.UNKNOWN, 0) <= 10  # at most the one window the dead run had claimed
    accepted = api.accepted()
    assert max(accepted.values()) == 1
    ledger = await deliveries(database, blast_id)
    sent = {phone for phone, d in ledger.items() if d.status == MessageStatus.SENT}
    assert sent <= set(accepted)
    assert set(accepted) - sent <= {phone for phone, d in ledger.items() if d.status == MessageStatus.UNKNOWN}
    # A person who checked the webhooks releases the unknown ones; only those are sent again.
    released = await release_unknown_deliveries(database, blast_id)
    assert released == counts[MessageStatus.UNKNOWN]
    before = len(api.messages)
    again = await sender(database, api_client).run(blast_id)
    assert again.status == BlastStatus.COMPLETED and len(api.messages) - before == released


async def test_two_runs_at_once_share_the_recipients_between_them(
    database: Database, cloud_api: tuple[CloudApi, str], api_client: CloudApiClient
) -> None:
    api, _ = cloud_api
    api.delay_s = 0.005
    blast_id = await new_blast(database, 120)
    outcomes = await asyncio.gather(
        sender(database, api_client, window=8).run(blast_id),
        sender(database, api_client, window=8).run(blast_id),
        return_exceptions=True,
    )
    assert max(api.accepted().values()) == 1
    assert any(not isinstance(o, BaseException) and o.status == BlastStatus.COMPLETED for o in outcomes)
    counts = await delivery_counts(database, blast_id)
    assert sum(counts.values()) == 120 and MessageStatus.PENDING not in counts
    assert len(api.messages) >= counts[MessageStatus.SENT]


async def test_due_blasts_are_the_scheduled_ones_whose_time_passed_and_the_interrupted(database: Database) -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)
    due = await new_blast(database, 1, send_at=past)
    await new_blast(database, 1, send_at=SOON)
    await new_blast(database, 1, send_at=None)
    interrupted = await new_blast(database, 1, send_at=past)
    async with database.session() as session, session.begin():
        blast = await session.get(WhatsAppBlast, interrupted)
        assert blast is not None
        blast.status = BlastStatus.PROCESSING
    assert await due_blasts(database) == [(due, 1), (interrupted, 1)]
