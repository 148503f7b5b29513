"""Sending certificates over real SMTP (aiosmtpd on loopback): STARTTLS and AUTH, transient and permanent
answers, a connection lost during DATA, and the at-most-once ledger."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select, update

from jobs.certificates import (
    queue_event_certificates,
    queue_event_emails,
    release_unknown_delivery,
    retry_failed_jobs,
    send_certificate_email,
)
from jobs.certificates.delivery import DeliveryOutcomeUnknown
from jobs.certificates.runtime import open_runtime
from jobs.certificates.smtp import SmtpConfig, SmtpTransientError, SmtpUrlError
from jobs.config import AppSettings, SettingsError
from jobs.db import Database, DeliveryStatus, EmailDelivery, Participant
from jobs.limits import queue_limits
from jobs.mail_sink import EmlDirectorySink, bound_port, start_sink
from queue_system import Client, FailedFilter, QueueConfig, QueueLimits, RateLimit

from ..support.queue_fixtures import run_burst
from .helpers import Sink, create_event, make_worker_settings

USER, PASSWORD = "mailer", "s3cret/pa:ss"
StartServer = Callable[..., Awaitable[int]]


# --- servers -------------------------------------------------------------------------------------------------


class TlsAuthSink(EmlDirectorySink):
    """Stores a message only if the session is encrypted and logged in (the server enforces both too), and
    remembers the client connections the messages came over."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.connections: set[object] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert session.ssl is not None and session.authenticated
        self.connections.add(session.peer)
        return await super().handle_DATA(server, session, envelope)


class TryAgainOnce(EmlDirectorySink):
    """Answers 451 to the first DATA of every message, then accepts it."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.refused: set[bytes] = set()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message_id = _message_id(envelope)
        if message_id not in self.refused:
            self.refused.add(message_id)
            return "451 4.3.0 Mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)


class NoSuchUser(EmlDirectorySink):
    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any) -> str:
        return "550 5.1.1 <" + address + ">: Recipient address rejected: User unknown"


class HangsUpDuringData(EmlDirectorySink):
    """Takes the message, then drops the connection before answering: the client cannot know the outcome."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await super().handle_DATA(server, session, envelope)
        assert isinstance(server.transport, asyncio.Transport)
        server.transport.abort()
        return "250 never seen by the client"


def _message_id(envelope: Envelope) -> bytes:
    content = envelope.content if isinstance(envelope.content, bytes) else b""
    for line in content.split(b"\r\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip()
    raise AssertionError("no Message-ID")


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
async def start_server() -> AsyncIterator[StartServer]:
    """Start an aiosmtpd server on a free loopback port; all are stopped after the test."""
    async with AsyncExitStack() as stack:

        async def start(handler: Any, **options: Any) -> int:
            server = await start_sink(handler, **options)
            stack.push_async_callback(server.wait_closed)
            stack.callback(server.close)
            return bound_port(server)

        yield start


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


# --- helpers -------------------------------------------------------------------------------------------------


async def generated_event(database: Database, client: Client, worker: type, names: list[str]) -> int:
    event_id, _ = await create_event(database, names)
    await queue_event_certificates(database, event_id, client=client)
    await run_burst(worker, queues=["certificate-generation"])
    return event_id


async def deliveries(database: Database) -> list[EmailDelivery]:
    async with database.session() as session:
        return list(await session.scalars(select(EmailDelivery).order_by(EmailDelivery.participant_id)))


async def participants(database: Database) -> list[int]:
    async with database.session() as session:
        return list(await session.scalars(select(Participant.id).order_by(Participant.id)))


def with_smtp(settings: AppSettings, url: str) -> AppSettings:
    return settings.model_copy(update={"smtp_url": url})


# --- tests ---------------------------------------------------------------------------------------------------


async def test_starttls_and_login_over_one_reused_connection(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    certificate_worker: type,
    start_server: StartServer,
    tls_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    handler = TlsAuthSink(tmp_path / "tls-mail")
    port = await start_server(handler, **tls_auth_server(tls_files))
    event_id = await generated_event(database, client, certificate_worker, ["Ахмед", "Ñandú Çelik", "Nguyễn Thị Hồng"])
    url = f"smtp://{USER}:s3cret%2Fpa%3Ass@127.0.0.1:{port}?starttls=1&cafile={tls_files[0]}"

    assert (await queue_event_emails(database, event_id, client=client)).queued == 3
    await run_burst(make_worker_settings(config, with_smtp(app_settings, url)), queues=["email-sending"], concurrency=1)

    assert handler.accepted == 3
    assert len(handler.connections) == 1  # one TLS handshake and one login for all three messages
    assert [d.status for d in await deliveries(database)] == [DeliveryStatus.ACCEPTED] * 3


def tls_auth_server(tls_files: tuple[Path, Path]) -> dict[str, Any]:
    """aiosmtpd options: STARTTLS with the throwaway certificate, then AUTH, both required."""
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*tls_files)
    return {"tls_context": server_tls, "require_starttls": True, "auth_required": True, "authenticator": authenticate}


async def test_a_wrong_password_fails_at_once_with_the_servers_answer(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    certificate_worker: type,
    start_server: StartServer,
    tls_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    port = await start_server(TlsAuthSink(tmp_path / "m"), **tls_auth_server(tls_files))
    event_id = await generated_event(database, client, certificate_worker, ["Ахмед"])
    settings = with_smtp(app_settings, f"smtp://{USER}:wrong@127.0.0.1:{port}?starttls=1&cafile={tls_files[0]}")
    await queue_event_emails(database, event_id, client=client)
    await run_burst(make_worker_settings(config, settings), queues=["email-sending"])

    (entry,) = (await client.failed.list(FailedFilter(function=send_certificate_email.name))).entries
    assert entry.reason == "permanent failure" and entry.tries == 1
    assert "535" in entry.message


async def test_451_is_retried_by_the_email_policy_then_accepted(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    certificate_worker: type,
    start_server: StartServer,
    tmp_path: Path,
) -> None:
    handler = TryAgainOnce(tmp_path / "flaky-mail")
    port = await start_server(handler)
    event_id = await generated_event(database, client, certificate_worker, ["Ахмед", "Siti Nurhaliza"])
    await queue_event_emails(database, event_id, client=client)
    started = asyncio.get_running_loop().time()
    await run_burst(make_worker_settings(config, with_smtp(app_settings, f"smtp://127.0.0.1:{port}")))

    assert asyncio.get_running_loop().time() - started >= 3  # Exponential(3): the retry waited 3 s
    assert handler.accepted == 2 and len(handler.refused) == 2
    rows = await deliveries(database)
    assert [(d.status, d.attempts) for d in rows] == [(DeliveryStatus.ACCEPTED, 2)] * 2
    assert all(d.last_error and d.last_error.startswith("451") for d in rows)
    assert (await client.failed.list()).total == 0


async def test_550_goes_to_the_failed_store_at_once_with_the_servers_answer(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    certificate_worker: type,
    start_server: StartServer,
    tmp_path: Path,
) -> None:
    port = await start_server(NoSuchUser(tmp_path / "none"))
    event_id = await generated_event(database, client, certificate_worker, ["Ахмед", "Ζωή"])
    await queue_event_emails(database, event_id, client=client)
    await run_burst(make_worker_settings(config, with_smtp(app_settings, f"smtp://127.0.0.1:{port}")))

    page = await client.failed.list(
        FailedFilter(function=send_certificate_email.name, tags={"event_id": str(event_id)})
    )
    assert page.total == 2
    for entry in page.entries:
        assert entry.reason == "permanent failure" and entry.tries == 1
        assert "550 5.1.1" in entry.message and "User unknown" in entry.message
        assert entry.tags == {"event_id": str(event_id)}
    rows = await deliveries(database)
    assert [(d.status, d.attempts) for d in rows] == [(DeliveryStatus.REJECTED, 0)] * 2
    assert all(d.server_reply and d.server_reply.startswith("550") for d in rows)
    assert (await queue_event_emails(database, event_id, client=client)).needs_attention == 2


async def test_a_connection_lost_during_data_is_never_resent_until_released(
    database: Database,
    client: Client,
    config: QueueConfig,
    app_settings: AppSettings,
    certificate_worker: type,
    start_server: StartServer,
    sink: Sink,
    tmp_path: Path,
) -> None:
    hangs_up = HangsUpDuringData(tmp_path / "lost")
    port = await start_server(hangs_up)
    event_id = await generated_event(database, client, certificate_worker, ["Nguyễn Thị Hồng"])
    await queue_event_emails(database, event_id, client=client)
    await run_burst(make_worker_settings(config, with_smtp(app_settings, f"smtp://127.0.0.1:{port}")))

    (entry,) = (await client.failed.list()).entries
    assert entry.reason == "permanent failure" and "DeliveryOutcomeUnknown" in entry.message
    (row,) = await deliveries(database)
    assert (row.status, row.attempts, hangs_up.accepted) == (DeliveryStatus.UNKNOWN, 1, 1)
    assert row.message_id in entry.message

    # A retry from the failed store (as the seed's "retry failed" endpoint does) still does not resend.
    good_worker = make_worker_settings(config, app_settings)  # now pointing at the healthy sink
    assert await retry_failed_jobs(send_certificate_email, event_id=event_id, client=client) == 1
    await run_burst(good_worker, queues=["email-sending"])
    assert sink.files() == [] and (await client.failed.list()).total == 1

    # A person checked the server's log for the Message-ID and releases it: now it is sent, once.
    assert await release_unknown_delivery(database, row.participant_id)
    assert await retry_failed_jobs(send_certificate_email, event_id=event_id, client=client) == 1
    await run_burst(good_worker, queues=["email-sending"])
    assert len(sink.files()) == 1
    (row,) = await deliveries(database)
    assert (row.status, row.attempts) == (DeliveryStatus.ACCEPTED, 2)


async def test_a_worker_that_died_during_data_leaves_sending_which_is_not_resent(
    database: Database, client: Client, app_settings: AppSettings, certificate_worker: type, sink: Sink
) -> None:
    await generated_event(database, client, certificate_worker, ["Ахмед"])
    (participant_id,) = await participants(database)
    runtime = await open_runtime(app_settings)
    try:
        first = await runtime.mailer.send(participant_id)
        # As if the worker died after the server accepted and before "accepted" was recorded.
        async with database.session() as session, session.begin():
            await session.execute(update(EmailDelivery).values(status=DeliveryStatus.SENDING))
        with pytest.raises(DeliveryOutcomeUnknown, match=re.escape(first.message_id)):
            await runtime.mailer.send(participant_id)
        with pytest.raises(DeliveryOutcomeUnknown):  # and on every later try
            await runtime.mailer.send(participant_id)
    finally:
        await runtime.close()
    assert len(sink.files()) == 1
    (row,) = await deliveries(database)
    assert (row.status, row.attempts) == (DeliveryStatus.UNKNOWN, 1)


async def test_no_server_is_a_transient_error_and_nothing_is_marked_sent(
    database: Database, client: Client, app_settings: AppSettings, certificate_worker: type
) -> None:
    await generated_event(database, client, certificate_worker, ["Ахмед"])
    (participant_id,) = await participants(database)
    runtime = await open_runtime(with_smtp(app_settings, f"smtp://127.0.0.1:{await free_port()}?timeout=2"))
    try:
        with pytest.raises(SmtpTransientError, match="cannot connect"):
            await runtime.mailer.send(participant_id)
    finally:
        await runtime.close()
    assert all(d.status == DeliveryStatus.PENDING for d in await deliveries(database))


async def free_port() -> int:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    return port


def test_smtp_url_forms() -> None:
    plain = SmtpConfig.from_url("smtp://127.0.0.1:1025")
    assert (plain.host, plain.port, plain.starttls, plain.username) == ("127.0.0.1", 1025, False, None)
    tls = SmtpConfig.from_url("smtp://user%40corp:p%2Fw@mail.example.org?starttls=1&timeout=10")
    assert (tls.port, tls.starttls, tls.username, tls.password, tls.timeout_s) == (587, True, "user@corp", "p/w", 10)
    assert "p/w" not in tls.describe()
    assert SmtpConfig.from_url("smtps://u:p@mail.example.org").port == 465
    for bad in ("http://x", "smtp://x?starttls=1&verify=0", "smtps://x?starttls=1"):
        with pytest.raises(SmtpUrlError):
            SmtpConfig.from_url(bad)


def test_the_send_rate_setting_is_a_limit_shared_by_every_worker() -> None:
    limits = queue_limits(AppSettings(email_rate_per_minute=60))  # the Laravel seed's 60 per minute
    assert limits["email-sending"] == QueueLimits(rate=RateLimit(60, per=60))
    assert "email-sending" not in queue_limits(AppSettings(email_rate_per_minute=0))  # unlimited: the local sink
    with pytest.raises(SettingsError):
        AppSettings.from_env({"EMAIL_RATE_PER_MINUTE": "-1"})
