"""The certificate pipeline through the real worker and Redis: generate, then email, idempotently."""

from __future__ import annotations

import email
import io
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from jobs.certificates import (
    EventNotFound,
    event_progress,
    queue_event_certificates,
    queue_event_emails,
    request_reissue,
)
from jobs.certificates.runtime import open_runtime
from jobs.config import AppSettings
from jobs.db import Certificate, CertificateStatus, Database, DeliveryStatus, EmailDelivery
from queue_system import Client, QueueConfig

from ..support.queue_fixtures import run_burst
from .helpers import NAMES, Sink, create_event, make_worker_settings

PARTICIPANTS = 20
STAGES = ((queue_event_certificates, "certificate-generation"), (queue_event_emails, "email-sending"))


def names(count: int) -> list[str]:
    return [f"{NAMES[i % len(NAMES)]} {i}" for i in range(count)]


@pytest.mark.parametrize("render_processes", [0, 2], ids=["threads", "process-pool"])
async def test_an_event_is_generated_then_emailed(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    sink: Sink,
    render_processes: int,
) -> None:
    app_settings = app_settings.model_copy(update={"certificate_render_processes": render_processes})
    certificate_worker = make_worker_settings(config, app_settings)
    event_id, participant_ids = await create_event(database, names(PARTICIPANTS))

    report = await queue_event_certificates(database, event_id, client=client)
    assert (report.total, report.queued, report.duplicates, report.done) == (PARTICIPANTS, PARTICIPANTS, 0, 0)
    assert report.queue == "certificate-generation"
    await run_burst(certificate_worker, queues=["certificate-generation"])

    async with database.session() as session:
        certificates = list(await session.scalars(select(Certificate).order_by(Certificate.participant_id)))
    assert [c.participant_id for c in certificates] == participant_ids
    for certificate, name in zip(certificates, names(PARTICIPANTS), strict=True):
        assert certificate.status == CertificateStatus.GENERATED and certificate.file_path
        pdf = (app_settings.resolved_certificate_dir / certificate.file_path).read_bytes()
        assert len(pdf) == certificate.size_bytes
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1 and name in reader.pages[0].extract_text()

    report = await queue_event_emails(database, event_id, client=client)
    assert (report.queued, report.not_ready, report.done) == (PARTICIPANTS, 0, 0)
    await run_burst(certificate_worker, queues=["email-sending"])

    progress = await event_progress(database, event_id)
    assert progress.certificates_generated == PARTICIPANTS
    assert progress.emails == {DeliveryStatus.ACCEPTED: PARTICIPANTS}
    messages = [parse(path) for path in sink.files()]
    assert len(messages) == PARTICIPANTS
    async with database.session() as session:
        deliveries = {d.message_id: d for d in await session.scalars(select(EmailDelivery))}
    for message in messages:
        delivery = deliveries[message["Message-ID"]]
        assert delivery.status == DeliveryStatus.ACCEPTED and delivery.attempts == 1
        assert delivery.accepted_at is not None and delivery.server_reply == "250 2.0.0 Message accepted for delivery"
        assert_certificate_email(message, delivery.recipient)


def parse(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


def assert_certificate_email(message: EmailMessage, recipient: str) -> None:
    assert message.get_content_type() == "multipart/mixed"
    assert message["To"].addresses[0].addr_spec == recipient
    name = message["To"].addresses[0].display_name
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and name in text.get_content()
    assert html is not None and "<strong>" in html.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert str(attachment.get_filename()).startswith("certificate-E")
    pdf = attachment.get_content()
    assert name in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


async def test_queueing_twice_while_the_first_run_waits_enqueues_nothing(database: Database, client: Client) -> None:
    event_id, _ = await create_event(database, names(PARTICIPANTS))
    first = await queue_event_certificates(database, event_id, client=client)
    second = await queue_event_certificates(database, event_id, client=client)
    assert (first.queued, first.duplicates) == (PARTICIPANTS, 0)
    assert (second.queued, second.duplicates) == (0, PARTICIPANTS)
    assert await client.queue_size("certificate-generation") == PARTICIPANTS


async def test_running_the_jobs_again_changes_nothing(
    database: Database, client: Client, certificate_worker: type, app_settings: AppSettings, sink: Sink
) -> None:
    event_id, (participant_id, *_) = await create_event(database, ["Nguyễn Thị Hồng", "Ахмед"])
    await queue_event_certificates(database, event_id, client=client)
    await run_burst(certificate_worker, queues=["certificate-generation"])
    await queue_event_emails(database, event_id, client=client)
    await run_burst(certificate_worker, queues=["email-sending"])
    async with database.session() as session:
        before = await session.scalar(select(Certificate).where(Certificate.participant_id == participant_id))
    assert before is not None and before.file_path is not None
    written = (app_settings.resolved_certificate_dir / before.file_path).stat().st_mtime_ns

    # Whole event: everything is done, so nothing is queued.
    again = await queue_event_certificates(database, event_id, client=client)
    assert (again.queued, again.done) == (0, 2)
    again = await queue_event_emails(database, event_id, client=client)
    assert (again.queued, again.done) == (0, 2)

    # One job run directly (as a replay would): the certificate is kept, the email is not sent again.
    runtime = await open_runtime(app_settings)
    try:
        generated = await runtime.generator.generate(participant_id)
        sent = await runtime.mailer.send(participant_id)
    finally:
        await runtime.close()
    assert not generated.created and generated.number == before.number
    assert not sent.sent and sent.status == DeliveryStatus.ACCEPTED
    assert (app_settings.resolved_certificate_dir / before.file_path).stat().st_mtime_ns == written
    assert len(sink.files()) == 2


async def test_a_missing_file_is_written_again(
    database: Database, client: Client, certificate_worker: type, app_settings: AppSettings
) -> None:
    event_id, (participant_id,) = await create_event(database, ["Siti Nurhaliza"])
    await queue_event_certificates(database, event_id, client=client)
    await run_burst(certificate_worker, queues=["certificate-generation"])
    async with database.session() as session:
        certificate = await session.scalar(select(Certificate))
    assert certificate is not None and certificate.file_path is not None
    path = app_settings.resolved_certificate_dir / certificate.file_path
    path.unlink()

    runtime = await open_runtime(app_settings)
    try:
        result = await runtime.generator.generate(participant_id)
    finally:
        await runtime.close()
    assert result.created and result.number == certificate.number and path.is_file()


async def test_a_reissue_makes_and_sends_a_new_version(
    database: Database, client: Client, certificate_worker: type, sink: Sink
) -> None:
    event_id, (participant_id,) = await create_event(database, ["Jurgen Gross"])
    for queue_call, queue in (
        (queue_event_certificates, "certificate-generation"),
        (queue_event_emails, "email-sending"),
    ):
        await queue_call(database, event_id, client=client)
        await run_burst(certificate_worker, queues=[queue])
    assert await request_reissue(database, participant_id) == 2

    assert (await queue_event_emails(database, event_id, client=client)).not_ready == 1
    for queue_call, queue in (
        (queue_event_certificates, "certificate-generation"),
        (queue_event_emails, "email-sending"),
    ):
        assert (await queue_call(database, event_id, client=client)).queued == 1
        await run_burst(certificate_worker, queues=[queue])

    async with database.session() as session:
        numbers = list(await session.scalars(select(Certificate.number).order_by(Certificate.version)))
    assert numbers[1].endswith("-2") and numbers[0].endswith("-1")
    assert len(sink.files()) == 2


async def test_an_unknown_event_is_refused_and_nothing_is_queued(database: Database, client: Client) -> None:
    with pytest.raises(EventNotFound, match="event 999999"):
        await queue_event_certificates(database, 999_999, client=client)
    assert await client.queue_size("certificate-generation") == 0


async def test_emails_wait_for_their_certificates(database: Database, client: Client) -> None:
    event_id, _ = await create_event(database, ["Ахмед", "Ζωή"])
    report = await queue_event_emails(database, event_id, client=client)
    assert (report.total, report.queued, report.not_ready) == (2, 0, 2)


async def test_queueing_creates_the_pending_certificate_rows_once(
    database: Database, client: Client, certificate_worker: type
) -> None:
    event_id, participant_ids = await create_event(database, ["Ахмед", "Ζωή"])

    async def codes() -> dict[int, tuple[str, str, str]]:
        async with database.session() as session:
            rows = await session.scalars(select(Certificate))
            return {c.participant_id: (c.number, c.verification_code, c.status) for c in rows}

    await queue_event_certificates(database, event_id, client=client)
    first = await codes()
    assert set(first) == set(participant_ids)
    assert {status for _, _, status in first.values()} == {CertificateStatus.PENDING}
    await queue_event_certificates(database, event_id, client=client)  # the same call again: rows untouched
    assert await codes() == first
    await run_burst(certificate_worker, queues=["certificate-generation"])
    after = await codes()
    assert {pid: code[:2] for pid, code in after.items()} == {pid: code[:2] for pid, code in first.items()}
    assert {status for _, _, status in after.values()} == {CertificateStatus.GENERATED}


async def test_queueing_emails_with_the_sender_creates_the_delivery_rows_that_the_jobs_then_use(
    database: Database, client: Client, certificate_worker: type, app_settings: AppSettings, sink: Sink
) -> None:
    event_id, _ = await create_event(database, ["Ахмед", "Ζωή"])
    await queue_event_certificates(database, event_id, client=client)
    await run_burst(certificate_worker, queues=["certificate-generation"])
    await queue_event_emails(database, event_id, client=client, sender=app_settings.mail_from)
    async with database.session() as session:
        queued = {d.id: (d.message_id, d.status) for d in await session.scalars(select(EmailDelivery))}
    assert len(queued) == 2 and {status for _, status in queued.values()} == {DeliveryStatus.PENDING}
    await run_burst(certificate_worker, queues=["email-sending"])
    async with database.session() as session:
        sent = {d.id: (d.message_id, d.status) for d in await session.scalars(select(EmailDelivery))}
    assert sent == {key: (message_id, DeliveryStatus.ACCEPTED) for key, (message_id, _) in queued.items()}
    assert sorted(parse(path)["Message-ID"] for path in sink.files()) == sorted(m for m, _ in queued.values())
