"""The two jobs of the certificate system (seed 000), with the seed's policies.

Each job takes only a participant id and reads the rest from the database, so a replayed job always works on
current data. Errors that no retry can fix become ``PermanentFailure`` and go straight to the failed store
with the reason in the message (the server's 5xx answer, the missing glyphs, …); everything else is retried
by the declared policy. Producers tag every job with ``{"event_id": …}`` (see ``service``).
"""

from __future__ import annotations

from typing import Any

from queue_system import Exponential, JobContext, JobFunction, PermanentFailure, job

from ..queues import CERTIFICATE_GENERATION, EMAIL_SENDING
from .delivery import DeliveryOutcomeUnknown, RecipientRejected
from .fonts import UnsupportedText
from .generation import LogoMissing, ParticipantNotFound
from .runtime import runtime_from
from .smtp import SmtpLoginRefused
from .verify import CertificateInvalid

# Retrying these cannot help: the data, the font or the mail server's final answer would be the same.
_GENERATION_PERMANENT = (ParticipantNotFound, UnsupportedText, LogoMissing, CertificateInvalid)
_EMAIL_PERMANENT = (ParticipantNotFound, RecipientRejected, DeliveryOutcomeUnknown, SmtpLoginRefused)


@job(queue=CERTIFICATE_GENERATION, max_tries=3, backoff=Exponential(2), timeout=120)
async def generate_certificate(ctx: JobContext, participant_id: int) -> dict[str, Any]:
    """Render, check, store and record the participant's current certificate (idempotent)."""
    runtime = await runtime_from(ctx)
    try:
        result = await runtime.generator.generate(participant_id)
    except _GENERATION_PERMANENT as exc:
        raise PermanentFailure(f"{type(exc).__name__}: {exc}") from exc
    return result.as_dict()


@job(queue=EMAIL_SENDING, max_tries=5, backoff=Exponential(3), timeout=120)
async def send_certificate_email(ctx: JobContext, participant_id: int) -> dict[str, Any]:
    """Email the participant's current certificate, at most once per certificate version."""
    runtime = await runtime_from(ctx)
    try:
        result = await runtime.mailer.send(participant_id)
    except _EMAIL_PERMANENT as exc:
        raise PermanentFailure(f"{type(exc).__name__}: {exc}") from exc
    return result.as_dict()


CERTIFICATE_JOBS: list[JobFunction[Any, Any]] = [generate_certificate, send_certificate_email]
