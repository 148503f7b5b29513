"""The certificate system (seed 000): render a certificate per participant, email it, report per event.

generate_certificate / send_certificate_email     the jobs (queues certificate-generation, email-sending)
queue_event_certificates / queue_event_emails     what the API's generate-event / send-event call
event_progress, retry_failed_jobs, …              status and recovery
certificate_hooks()                               the worker's on_startup / on_shutdown
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .jobs import CERTIFICATE_JOBS, generate_certificate, send_certificate_email
    from .runtime import certificate_hooks
    from .service import (
        EventNotFound,
        EventProgress,
        QueueReport,
        delete_event,
        event_progress,
        queue_event_certificates,
        queue_event_emails,
        release_unknown_delivery,
        request_reissue,
        retry_failed_jobs,
    )

# Loaded on first use: the render processes (``cpu_pool``, started with ``spawn``) import this package too, and
# need none of the queue, database or HTTP modules these names bring in (a second of start-up per process).
_HOMES = {
    "CERTIFICATE_JOBS": "jobs",
    "generate_certificate": "jobs",
    "send_certificate_email": "jobs",
    "certificate_hooks": "runtime",
    **dict.fromkeys(
        (
            "EventNotFound",
            "EventProgress",
            "QueueReport",
            "delete_event",
            "event_progress",
            "queue_event_certificates",
            "queue_event_emails",
            "release_unknown_delivery",
            "request_reissue",
            "retry_failed_jobs",
        ),
        "service",
    ),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


__all__ = [
    "CERTIFICATE_JOBS",
    "EventNotFound",
    "EventProgress",
    "QueueReport",
    "certificate_hooks",
    "delete_event",
    "event_progress",
    "generate_certificate",
    "queue_event_certificates",
    "queue_event_emails",
    "release_unknown_delivery",
    "request_reissue",
    "retry_failed_jobs",
    "send_certificate_email",
]
