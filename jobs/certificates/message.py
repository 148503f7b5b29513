"""The certificate email: a text part, an HTML part and the PDF attached.

Built with the standard library's MIME classes under the ``compat32`` policy with CRLF line ends: names in any
script are RFC 2047-encoded in the To header and the subject, as with the newer ``EmailMessage`` API, which
however re-parses every header and took 10-20 ms per message against 3 ms here (the cost of a whole send).
The Message-ID is chosen by the caller and stored before the first try: every retry sends the same id, which is
how an operator can tell from the server's log whether a message whose outcome was lost did arrive.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

POLICY = compat32.clone(linesep="\r\n")  # SMTP wants CRLF


@dataclass(frozen=True)
class CertificateEmail:
    sender: str  # "Name <address>" or a bare address
    recipient_name: str
    recipient_address: str
    event_name: str
    event_date_text: str
    certificate_number: str
    message_id: str

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1]


def new_message_id(sender: str) -> str:
    """A globally unique Message-ID in the sender's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return make_msgid(idstring="certificate", domain=domain)


def build_message(mail: CertificateEmail, pdf: bytes) -> bytes:
    """The complete message with ``pdf`` attached, as the bytes to send with DATA."""
    message = MIMEMultipart("mixed", policy=POLICY)
    message["Subject"] = Header(f"Your certificate: {mail.event_name}", "utf-8", header_name="Subject").encode()
    message["From"] = mail.sender
    message["To"] = formataddr((mail.recipient_name, mail.recipient_address))
    message["Date"] = format_datetime(datetime.now(UTC))  # not ``db.types``: the render processes skip the db
    message["Message-ID"] = mail.message_id
    body = MIMEMultipart("alternative", policy=POLICY)
    body.attach(MIMEText(_text(mail), "plain", "utf-8", policy=POLICY))
    body.attach(MIMEText(_html(mail), "html", "utf-8", policy=POLICY))
    message.attach(body)
    attachment = MIMEApplication(pdf, "pdf", policy=POLICY)
    attachment.add_header("Content-Disposition", "attachment", filename=f"certificate-{mail.certificate_number}.pdf")
    message.attach(attachment)
    return message.as_bytes()


def _text(mail: CertificateEmail) -> str:
    return (
        f"Dear {mail.recipient_name},\n\n"
        f"thank you for taking part in {mail.event_name} on {mail.event_date_text}.\n"
        f"Your certificate (No. {mail.certificate_number}) is attached to this email as a PDF.\n\n"
        "Kind regards,\nThe organisers\n"
    )


def _html(mail: CertificateEmail) -> str:
    name, event = html.escape(mail.recipient_name), html.escape(mail.event_name)
    number, day = html.escape(mail.certificate_number), html.escape(mail.event_date_text)
    return (
        '<!DOCTYPE html><html><body style="font-family: sans-serif">'
        f"<p>Dear {name},</p>"
        f"<p>thank you for taking part in <strong>{event}</strong> on {day}.</p>"
        f"<p>Your certificate (No. {number}) is attached to this email as a PDF.</p>"
        "<p>Kind regards,<br>The organisers</p>"
        "</body></html>"
    )
