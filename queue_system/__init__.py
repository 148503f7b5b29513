"""queue-system: an asyncio-native background-job framework on arq and Redis.

Declare jobs with :func:`job`, wire them with :func:`worker_settings`, enqueue with the typed handle or a
:class:`Client`, and run ``queue-system worker settings.WorkerSettings`` (or ``arq settings.WorkerSettings``).
"""

from __future__ import annotations

from .backoff import Backoff, Custom, Exponential, Fixed, Linear
from .client import Client, Job, JobRequest
from .config import QueueConfig
from .errors import (
    ConfigError,
    EnqueueError,
    FunctionNotFound,
    JobFailed,
    JobNotFound,
    JobTimeout,
    PayloadTooLarge,
    PermanentFailure,
    QueueSystemError,
    RedisUnavailable,
    Retry,
    SerializationError,
    UndecodablePayload,
    UnknownPriority,
    UnknownQueue,
    WorkerLost,
)
from .failed import FailedFilter, FailedJob, FailedPage, FailedStore
from .registry import JobFunction, current_client, job, use_client
from .types import JobContext, Priority
from .worker_settings import worker_settings

__version__ = "0.1.0"

__all__ = [
    "Backoff",
    "Client",
    "ConfigError",
    "Custom",
    "EnqueueError",
    "Exponential",
    "FailedFilter",
    "FailedJob",
    "FailedPage",
    "FailedStore",
    "Fixed",
    "FunctionNotFound",
    "Job",
    "JobContext",
    "JobFailed",
    "JobFunction",
    "JobNotFound",
    "JobRequest",
    "JobTimeout",
    "Linear",
    "PayloadTooLarge",
    "PermanentFailure",
    "Priority",
    "QueueConfig",
    "QueueSystemError",
    "RedisUnavailable",
    "Retry",
    "SerializationError",
    "UndecodablePayload",
    "UnknownPriority",
    "UnknownQueue",
    "WorkerLost",
    "__version__",
    "current_client",
    "job",
    "use_client",
    "worker_settings",
]
