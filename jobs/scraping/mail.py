"""``send-email``: a message rendered from Jinja2 templates, sent through the SMTP pool of the certificate system.

The text part is rendered without escaping and the HTML part with autoescaping, so a scraped product name such
as ``<b>Promo</b>`` shows as text in both. ``StrictUndefined`` turns a variable missing from the job's data
into a ``TemplateError`` (a permanent failure naming the variable) instead of an email with a blank in it.

The Message-ID is derived from the job id, so every retry of one job sends the same id: a receiving server or
mailbox can drop a duplicate left by a try whose outcome was lost. Delivery is at least once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

import jinja2
from aiosmtplib import SMTPException, SMTPRecipientsRefused, SMTPResponseException, SMTPServerDisconnected

from ..certificates.smtp import SmtpPool, SmtpTransientError, is_permanent, server_answer
from ..db.types import utcnow
from .email_templates import TEMPLATES
from .errors import DeliveryRejected, TemplateError


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


class TemplateRenderer:
    def __init__(self, directory: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(directory)] if directory else []
        loader = jinja2.ChoiceLoader([*loaders, jinja2.DictLoader(TEMPLATES)])
        self._plain = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.StrictUndefined)
        self._html = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)

    def render(self, template: str, data: Mapping[str, Any], subject: str | None = None) -> RenderedEmail:
        try:
            text = self._plain.get_template(f"{template}.txt").render(data)
            if subject is None:
                subject = self._plain.get_template(f"{template}.subject").render(data)
            try:
                html: str | None = self._html.get_template(f"{template}.html").render(data)
            except jinja2.TemplateNotFound:
                html = None
        except jinja2.TemplateNotFound as exc:
            raise TemplateError(f"no email template {exc.name!r} (built-in or in EMAIL_TEMPLATE_DIR)") from exc
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {template!r}: {type(exc).__name__}: {exc}") from exc
        return RenderedEmail(" ".join(subject.split()), text, html)


def build_email(sender: str, to: Sequence[str], rendered: RenderedEmail, message_id: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id
    message.set_content(rendered.text)
    if rendered.html is not None:
        message.add_alternative(rendered.html, subtype="html")
    return message


def message_id_for(job_id: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<{job_id}.scraper@{domain}>"


async def send(pool: SmtpPool, message: EmailMessage) -> str:
    """Send once; 5xx answers become ``DeliveryRejected``, the rest ``SmtpTransientError`` (retried)."""
    try:
        async with pool.connection() as client:
            try:
                errors, reply = await client.send_message(message)
            except SMTPServerDisconnected:  # the server closed the pooled connection while it was idle
                await pool.reconnect(client)
                errors, reply = await client.send_message(message)
    except SMTPRecipientsRefused as exc:
        answers = "; ".join(server_answer(r) for r in exc.recipients)
        if all(is_permanent(r) for r in exc.recipients):
            raise DeliveryRejected(f"every recipient was refused: {answers}") from exc
        raise SmtpTransientError(f"recipients refused for now: {answers}") from exc
    except SMTPResponseException as exc:
        if is_permanent(exc):
            raise DeliveryRejected(f"the mail server refused the message: {server_answer(exc)}") from exc
        raise SmtpTransientError(f"the mail server deferred the message: {server_answer(exc)}") from exc
    except (SMTPException, OSError, TimeoutError) as exc:
        raise SmtpTransientError(f"SMTP failed: {type(exc).__name__}: {exc}") from exc
    refused = {address: f"{code} {text}" for address, (code, text) in errors.items()}
    return reply if not refused else f"{reply}; refused: {refused}"
