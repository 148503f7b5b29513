"""The certificate email as bytes (``message.build_message``), read back with the standard library's parser."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from jobs.certificates.message import MAX_LINE, CertificateEmail, build_message

PDF = b"%PDF-1.3\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"  # binary content: every byte value, several times
LONG_NAME = "Ñandú Çelik Nguyễn Thị Hồng Ахмед Σωκράτης Παπαδόπουλος Maria José García Fernández"


def mail(
    name: str, *, sender: str = "Certificates <certificates@example.org>", event: str = "Kegiatan Test"
) -> CertificateEmail:
    return CertificateEmail(
        sender=sender,
        recipient_name=name,
        recipient_address="participant1@example.test",
        event_name=event,
        event_date_text="22 November 2026",
        certificate_number="E7-000042-1",
        message_id="<certificate.1@example.org>",
    )


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default_policy)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(
    "name", ["Siti Nurhaliza", "Nguyễn Thị Hồng", "Ахмед", 'O"Brien, Jr. (the third)', LONG_NAME, "A" * 120]
)
def test_the_message_reads_back_with_every_part_and_header(name: str) -> None:
    sent = mail(name, sender="Organisers Ünïon <certificates@example.org>", event="Kegiatan — Ünïcode ∑ 2026")
    raw = build_message(sent, PDF)
    message = parse(raw)

    assert message.get_content_type() == "multipart/mixed"
    assert not message.defects and all(not part.defects for part in message.walk())
    (recipient,) = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == (name, "participant1@example.test")
    assert message["From"].addresses[0].display_name == "Organisers Ünïon"
    assert message["Subject"] == "Your certificate: Kegiatan — Ünïcode ∑ 2026"
    assert message["Message-ID"] == "<certificate.1@example.org>" and message["Date"].datetime is not None
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and name in text.get_content() and "Kegiatan — Ünïcode ∑ 2026" in text.get_content()
    assert html is not None and "<strong>Kegiatan — Ünïcode ∑ 2026</strong>" in html.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "certificate-E7-000042-1.pdf"
    assert attachment.get_content() == PDF


def test_lines_end_in_crlf_and_stay_within_the_line_limit() -> None:
    raw = build_message(mail("Nguyễn Thị Hồng", event="A long event name " * 6), PDF)
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= MAX_LINE
    assert raw.endswith(b"--\r\n")


def test_every_message_has_its_own_boundaries() -> None:
    first, second = (parse(build_message(mail("Ахмед"), PDF)) for _ in range(2))
    assert first.get_boundary() != second.get_boundary()
