"""The database work of concurrent certificate jobs of one worker, grouped (``jobs/db/batching.py``): many sends
and renders at once each do their work once while sharing transactions, a repeated claim is granted once, a
failed batch fails (and rolls back) every job in it, and a delivery found "sending" is still never resent."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from email import message_from_bytes

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from jobs.certificates import queue_event_certificates, queue_event_emails
from jobs.certificates.claims import DeliveryClaims
from jobs.certificates.delivery import DeliveryOutcomeUnknown
from jobs.certificates.generation import ParticipantNotFound
from jobs.certificates.runtime import CertificateRuntime, open_runtime
from jobs.config import AppSettings
from jobs.db import Certificate, CertificateStatus, Database, DeliveryStatus, EmailDelivery, Participant
from jobs.db.batched_reads import BatchedReads, key_parameter, keys_parameter
from queue_system import Client

from ..support.queue_fixtures import run_burst
from .helpers import Sink, create_event

NAMES = [f"Peserta Nomor {i}" for i in range(12)]


async def _generated(database: Database, client: Client, worker: type, names: list[str]) -> tuple[int, list[int]]:
    event_id, participant_ids = await create_event(database, names)
    await queue_event_certificates(database, event_id, client=client)
    await run_burst(worker, queues=["certificate-generation"])
    return event_id, participant_ids


async def _deliveries(database: Database) -> list[EmailDelivery]:
    async with database.session() as session:
        return list(await session.scalars(select(EmailDelivery).order_by(EmailDelivery.participant_id)))


async def _runtime(settings: AppSettings) -> CertificateRuntime:
    return await open_runtime(settings.model_copy(update={"smtp_pool_size": 4}))


async def test_many_concurrent_sends_are_each_delivered_once_with_reads_and_claims_grouped(
    database: Database, client: Client, app_settings: AppSettings, certificate_worker: type, sink: Sink
) -> None:
    await _generated(database, client, certificate_worker, NAMES)
    async with database.session() as session:
        ids = list(await session.scalars(select(Participant.id).order_by(Participant.id)))
    runtime = await _runtime(app_settings)
    try:
        results = await asyncio.gather(*(runtime.mailer.send(pid) for pid in ids))
        mailer = runtime.mailer
        grouped = (mailer.rows.transactions, mailer.claims.transactions, mailer.marked_accepted.transactions)
        again = await asyncio.gather(*(runtime.mailer.send(pid) for pid in ids))  # all accepted: nothing is sent
    finally:
        await runtime.close()

    assert all(result.sent for result in results) and not any(result.sent for result in again)
    # the reads start in one loop turn, so they group; claims and last writes follow each email's SMTP exchange
    # and group only when those finish together (timing: under load they may not, and each is still one transaction)
    assert grouped[0] < len(ids) and all(1 <= transactions <= len(ids) for transactions in grouped), grouped
    rows = await _deliveries(database)
    assert [(row.status, row.attempts) for row in rows] == [(DeliveryStatus.ACCEPTED, 1)] * len(ids)
    files = sink.files()
    assert len(files) == len(ids)
    sent_ids = {message_from_bytes(path.read_bytes())["Message-ID"] for path in files}
    assert sent_ids == {row.message_id for row in rows}  # each delivery's own message, once


async def test_concurrent_renders_share_their_reads_and_each_certificate_is_made_once(
    database: Database, client: Client, app_settings: AppSettings
) -> None:
    event_id, ids = await create_event(database, NAMES[:8])
    await queue_event_certificates(database, event_id, client=client)  # creates the pending rows
    runtime = await _runtime(app_settings)
    try:
        results = await asyncio.gather(*(runtime.generator.generate(pid) for pid in ids))
        reads = runtime.generator.rows.transactions
        again = await asyncio.gather(*(runtime.generator.generate(pid) for pid in ids))
    finally:
        await runtime.close()
    assert all(result.created for result in results) and not any(result.created for result in again)
    assert 1 <= reads < len(ids)
    async with database.session() as session:
        statuses = list(await session.scalars(select(Certificate.status)))
    assert statuses == [CertificateStatus.GENERATED] * len(ids)


async def test_an_unknown_participant_in_a_batch_fails_only_its_own_job(
    database: Database, client: Client, app_settings: AppSettings, certificate_worker: type, sink: Sink
) -> None:
    _, (known,) = await _generated(database, client, certificate_worker, ["Ахмед"])
    runtime = await _runtime(app_settings)
    try:
        sent, missing = await asyncio.gather(
            runtime.mailer.send(known), runtime.mailer.send(known + 10_000), return_exceptions=True
        )
    finally:
        await runtime.close()
    assert isinstance(missing, ParticipantNotFound)
    assert not isinstance(sent, BaseException) and sent.sent and len(sink.files()) == 1


async def test_a_delivery_claimed_twice_in_one_batch_is_granted_once(
    database: Database, client: Client, app_settings: AppSettings, certificate_worker: type
) -> None:
    event_id, _ = await _generated(database, client, certificate_worker, ["A", "B"])
    await queue_event_emails(database, event_id, client=client, sender=app_settings.mail_from)
    first, second = [row.id for row in await _deliveries(database)]
    async with database.session() as session, session.begin():  # a 5xx earlier: claimable again
        await session.execute(
            update(EmailDelivery).where(EmailDelivery.id == second).values(status=DeliveryStatus.REJECTED)
        )
    claims = DeliveryClaims(database)
    answers = await asyncio.gather(claims.claim(first), claims.claim(first), claims.claim(second))
    assert answers == [True, False, True] and claims.transactions == 1
    assert await claims.claim(first) is False  # already "sending"
    rows = await _deliveries(database)
    assert [(row.status, row.attempts) for row in rows] == [(DeliveryStatus.SENDING, 1)] * 2


class _ClaimsThenFails(DeliveryClaims):
    """Claims, then breaks a unique key in the same transaction: the whole batch must roll back."""

    def run(self, connection: Connection, keys: Sequence[int]) -> Sequence[bool]:
        answers = super().run(connection, keys)
        existing = connection.execute(select(EmailDelivery).limit(1)).one()
        duplicate = {c.key: getattr(existing, c.key) for c in EmailDelivery.__table__.columns if c.key != "id"}
        connection.execute(insert(EmailDelivery), duplicate)  # one delivery per certificate: IntegrityError
        return answers


async def test_a_failed_claim_batch_fails_every_job_in_it_and_claims_nothing(
    database: Database, client: Client, app_settings: AppSettings, certificate_worker: type
) -> None:
    event_id, _ = await _generated(database, client, certificate_worker, ["A", "B", "C"])
    await queue_event_emails(database, event_id, client=client, sender=app_settings.mail_from)
    ids = [row.id for row in await _deliveries(database)]
    claims = _ClaimsThenFails(database)
    answers = await asyncio.gather(*(claims.claim(delivery) for delivery in ids), return_exceptions=True)
    assert all(isinstance(answer, IntegrityError) for answer in answers), answers
    assert [row.status for row in await _deliveries(database)] == [DeliveryStatus.PENDING] * 3
    assert await DeliveryClaims(database).claim(ids[0]) is True  # and each may be claimed by its retry


async def test_deliveries_found_sending_in_a_batch_are_not_resent(
    database: Database, client: Client, app_settings: AppSettings, certificate_worker: type, sink: Sink
) -> None:
    event_id, ids = await _generated(database, client, certificate_worker, NAMES[:5])
    await queue_event_emails(database, event_id, client=client, sender=app_settings.mail_from)
    async with database.session() as session, session.begin():  # as if a worker died during DATA of each
        await session.execute(update(EmailDelivery).values(status=DeliveryStatus.SENDING, attempts=1))
    runtime = await _runtime(app_settings)
    try:
        answers = await asyncio.gather(*(runtime.mailer.send(pid) for pid in ids), return_exceptions=True)
        later = await asyncio.gather(*(runtime.mailer.send(pid) for pid in ids), return_exceptions=True)
    finally:
        await runtime.close()
    assert all(isinstance(answer, DeliveryOutcomeUnknown) for answer in [*answers, *later])
    assert sink.files() == []
    rows = await _deliveries(database)
    assert [(row.status, row.attempts) for row in rows] == [(DeliveryStatus.UNKNOWN, 1)] * len(ids)


@pytest.mark.parametrize("count", [1, 3])
async def test_a_single_job_gets_a_batch_of_its_own(database: Database, count: int) -> None:
    _, ids = await create_event(database, [f"P{i}" for i in range(count)])
    query = select(Participant.id.label("pid"), Participant.name)
    one, many = query.where(Participant.id == key_parameter()), query.where(Participant.id.in_(keys_parameter()))
    reads = BatchedReads(database, one=one, many=many, key_column="pid")
    for pid in ids:  # one after another: nothing to group with
        row = await reads.load(pid)
        assert row is not None and row.pid == pid
    assert reads.transactions == count
