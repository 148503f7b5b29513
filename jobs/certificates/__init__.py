"""The certificate system (seed 000): render a certificate per participant, email it, report per event.

generate_certificate / send_certificate_email     the jobs (queues certificate-generation, email-sending)
queue_event_certificates / queue_event_emails     what the API's generate-event / send-event call
event_progress, retry_failed_jobs, …              status and recovery
certificate_hooks()                               the worker's on_startup / on_shutdown
"""

from __future__ import annotations

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
