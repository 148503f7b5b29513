"""``smtp.send_data``: a message in wire form goes out unchanged without aiosmtplib's rewriting; any other
message through ``SMTP.data``. Against the real mail sink (aiosmtpd) on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session
from aiosmtplib import SMTP, SMTPDataError, SMTPResponse

from jobs.certificates.message import CertificateEmail, build_message
from jobs.certificates.smtp import in_wire_form, send_data
from jobs.mail_sink import bound_port, start_sink

from .helpers import Sink

PDF = b"%PDF-1.3\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"


class NoRewriting(SMTP):
    """A client whose ``data`` must not be used (the wire-form path does the exchange itself)."""

    async def data(self, message: str | bytes, /, **_: Any) -> SMTPResponse:
        raise AssertionError("SMTP.data was used for a message in wire form")


async def connected(client: SMTP) -> SMTP:
    await client.connect()
    await client.mail("certificates@example.org")
    await client.rcpt("participant@example.test")
    return client


def certificate_email() -> bytes:
    mail = CertificateEmail(
        "Certificates <certificates@example.org>",
        "Nguyễn Thị Hồng",
        "participant@example.test",
        "Kegiatan Test",
        "22 November 2026",
        "E7-000042-1",
        "<certificate.1@example.org>",
    )
    return build_message(mail, PDF)


def test_wire_form() -> None:
    assert in_wire_form(certificate_email())
    assert in_wire_form(b"Subject: x\r\n\r\nbody\r\n")
    for other in (
        b"Subject: x\n\nbody\n",  # bare LF
        b"Subject: x\r\n\r\nbody\r",  # bare CR at the end
        b"Subject: x\r\n\r\nbo\rdy\r\n",  # bare CR inside
        b"Subject: x\r\n\r\n.hidden\r\n",  # a line starting with a dot
        b".Subject: x\r\n",  # the first line starting with a dot
        b"Subject: x\r\n\r\nno line end",
    ):
        assert not in_wire_form(other), other


async def test_a_message_in_wire_form_arrives_unchanged(sink: Sink) -> None:
    message = certificate_email()
    client = await connected(NoRewriting(hostname="127.0.0.1", port=sink.port))
    try:
        response = await send_data(client, message)
    finally:
        await client.quit()
    assert response.code == 250
    (stored,) = sink.files()
    assert stored.read_bytes() == message


async def test_other_messages_go_through_aiosmtplib(sink: Sink) -> None:
    client = await connected(SMTP(hostname="127.0.0.1", port=sink.port))
    try:
        await send_data(client, b"Subject: dots\n\n.one\n..two\nend")
    finally:
        await client.quit()
    (stored,) = sink.files()
    assert stored.read_bytes() == b"Subject: dots\r\n\r\n.one\r\n..two\r\nend\r\n"


class Refuse:
    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        return "554 5.6.0 refused"


@pytest.fixture
async def refusing() -> AsyncIterator[int]:
    server = await start_sink(Refuse())
    try:
        yield bound_port(server)
    finally:
        server.close()
        await server.wait_closed()


async def test_a_refusal_raises_with_the_servers_answer_and_the_connection_stays_usable(refusing: int) -> None:
    client = await connected(NoRewriting(hostname="127.0.0.1", port=refusing))
    try:
        with pytest.raises(SMTPDataError) as refused:
            await send_data(client, certificate_email())
        assert (refused.value.code, refused.value.message) == (554, "5.6.0 refused")
        assert (await client.noop()).code == 250
    finally:
        await client.quit()
