"""The notification jobs (queue ``notifications``): templated email and signed webhooks.

``send-email`` keeps the certificate emails' policy (5 tries, 3 s, 6 s, 12 s, 24 s): the same SMTP server,
the same reasons to wait. ``send-webhook`` retries 5xx answers, timeouts and connection errors with backoff
(2 s … 5 min), waits out a 429's Retry-After without using a try (``SlowDown``; the endpoint is paused for every
worker process meanwhile), and fails at once on any other 4xx: the receiver has said no, and asking again would
get the same answer.
"""

from __future__ import annotations

from typing import Any

from queue_system import Exponential, JobContext, JobFunction, SlowDown, job

from ..certificates.smtp import SmtpLoginRefused
from ..queues import NOTIFICATIONS
from .context import job_id
from .errors import NotConfigured, RateLimited
from .mail import build_email, message_id_for, send
from .runtime import runtime_from
from .webhooks import deliver


@job(
    name="send-email", queue=NOTIFICATIONS, max_tries=5, backoff=Exponential(3), timeout=120, fail_on=[SmtpLoginRefused]
)
async def send_email(
    ctx: JobContext,
    to: str | list[str],
    template: str,
    data: dict[str, Any] | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """Render ``template`` (built-in or from EMAIL_TEMPLATE_DIR) with ``data`` and send it.

    The subject is ``subject`` if given, else the template's ``.subject`` part rendered with the same data.
    """
    runtime = await runtime_from(ctx)
    recipients = [to] if isinstance(to, str) else list(to)
    rendered = runtime.templates.render(template, data or {}, subject)
    message_id = message_id_for(job_id(ctx), runtime.app.mail_from)
    reply = await send(runtime.smtp, build_email(runtime.app.mail_from, recipients, rendered, message_id))
    return {"to": recipients, "message_id": message_id, "server_reply": reply}


@job(name="send-webhook", queue=NOTIFICATIONS, max_tries=6, backoff=Exponential(2, max_delay=300), timeout=60)
async def send_webhook(ctx: JobContext, url: str, data: Any, event: str | None = None) -> dict[str, Any]:
    """POST ``{"event": …, "data": …}`` (or ``data`` alone without an event) as signed JSON to ``url``."""
    runtime = await runtime_from(ctx)
    secret = runtime.settings.secret_for(url)
    if not secret:
        raise NotConfigured(
            f"no webhook secret for {url}: set WEBHOOK_SECRET (or WEBHOOK_SECRETS); refusing to send unsigned"
        )
    payload = {"event": event, "data": data} if event is not None else data
    try:
        result = await deliver(
            runtime.webhooks, runtime.webhook_limiter, url, payload, secret=secret, delivery_id=job_id(ctx)
        )
    except RateLimited as exc:
        raise SlowDown(retry_after=exc.retry_after_s, reason=str(exc)) from exc
    return result.as_dict()


NOTIFICATION_JOBS: list[JobFunction[Any, Any]] = [send_email, send_webhook]
