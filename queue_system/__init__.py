"""queue-system: an asyncio-native background-job framework on arq and Redis.

Declare jobs with :func:`job`, wire them with :func:`worker_settings`, enqueue with the typed handle or a
:class:`Client`, and run ``queue-system worker settings.WorkerSettings`` (or ``arq settings.WorkerSettings``).
"""

from __future__ import annotations

from .api import QueueAPI
from .backoff import Backoff, Custom, Exponential, Fixed, Linear
from .client import Client, Job, JobRequest
from .config import QueueConfig
from .errors import (
    ConfigError,
    EnqueueError,
    FunctionNotFound,
    JobAborted,
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
    UnknownState,
    WorkerLost,
)
from .events import Event
from .failed import FailedFilter, FailedJob, FailedPage, FailedStore
from .progress import JobReporter, reporter
from .registry import JobFunction, current_client, job, use_client
from .retention import QueueRetention
from .types import JobContext, JobState, Priority, Retention
from .views import AbortOutcome, AbortResult, Counts, JobInfo, JobPage, LogLine, QueueStats, Totals
from .worker_settings import worker_settings

__version__ = "0.1.0"

__all__ = [
    "AbortOutcome",
    "AbortResult",
    "Backoff",
    "Client",
    "ConfigError",
    "Counts",
    "Custom",
    "EnqueueError",
    "Event",
    "Exponential",
    "FailedFilter",
    "FailedJob",
    "FailedPage",
    "FailedStore",
    "Fixed",
    "FunctionNotFound",
    "Job",
    "JobAborted",
    "JobContext",
    "JobFailed",
    "JobFunction",
    "JobInfo",
    "JobNotFound",
    "JobPage",
    "JobReporter",
    "JobRequest",
    "JobState",
    "JobTimeout",
    "Linear",
    "LogLine",
    "PayloadTooLarge",
    "PermanentFailure",
    "Priority",
    "QueueAPI",
    "QueueConfig",
    "QueueRetention",
    "QueueStats",
    "QueueSystemError",
    "RedisUnavailable",
    "Retention",
    "Retry",
    "SerializationError",
    "Totals",
    "UndecodablePayload",
    "UnknownPriority",
    "UnknownQueue",
    "UnknownState",
    "WorkerLost",
    "__version__",
    "current_client",
    "job",
    "reporter",
    "use_client",
    "worker_settings",
]
