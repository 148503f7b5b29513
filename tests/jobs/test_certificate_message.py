"""The certificate email as bytes (``message.build_message``), read back with the standard library's parser."""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from jobs.certificates.message import MAX_LINE, CertificateEmail, build_message
from jobs.certificates.smtp import WireMessage, in_wire_form

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


@pytest.mark.parametrize(
    ("name", "event", "number"),
    [
        ("Siti Nurhaliza", "Kegiatan Test", "E7-000042-1"),
        (LONG_NAME, "A long event name " * 6, "E7-000042-1"),  # headers folded with CRLF and a space
        (".Dot at the start", ".Event", ".7"),
        ('O"Brien, Jr. (the third)', "Kegiatan Test", "E7 / 42"),
        ("Line\r\n.break", "Kegiatan\nTest", "E7\r42"),  # line breaks: each becomes a space in the headers
        ("Unicode\u2028separator", "Kegiatan\x0bTest", "E7-000042-1"),
    ],
)
def test_the_message_is_in_wire_form_and_marked_so(name: str, event: str, number: str) -> None:
    """``WireMessage`` skips the scan before DATA, so the mark must be right: checked against the scan itself."""
    sent = CertificateEmail("Certs <c@example.org>", name, "p@example.test", event, "1 May 2026", number, "<1@x>")
    raw = build_message(sent, PDF)
    assert isinstance(raw, WireMessage)
    assert in_wire_form(bytes(raw))
    message = parse(bytes(raw))
    assert not message.defects and message["Message-ID"] == "<1@x>"
    assert message["To"].addresses[0].display_name == " ".join(name.splitlines())
    assert message["Subject"] == f"Your certificate: {' '.join(event.splitlines())}"
    assert next(message.iter_attachments()).get_content() == PDF
