"""queue-system: an asyncio-native background-job framework on arq and Redis.

Declare jobs with :func:`job`, wire them with :func:`worker_settings`, enqueue with the typed handle or a
:class:`Client`, and run ``queue-system worker settings.WorkerSettings`` (or ``arq settings.WorkerSettings``).
"""

from __future__ import annotations

from . import alerts
from .api import QueueAPI
from .backoff import Backoff, Custom, Exponential, Fixed, Linear
from .batch_store import BatchInfo, BatchPage, BatchProgress, BatchStatus
from .batches import Batch
from .client import Client, Job, JobRequest
from .config import QueueConfig
from .errors import (
    BatchClosed,
    BatchError,
    BatchNotFound,
    ConfigError,
    EnqueueError,
    FunctionNotFound,
    InvalidArgument,
    JobAborted,
    JobAlreadyStarted,
    JobFailed,
    JobNotFound,
    JobTimeout,
    PayloadTooLarge,
    PermanentFailure,
    QueueSystemError,
    RedisUnavailable,
    Retry,
    ScheduleNotFound,
    SerializationError,
    SlowDown,
    Throttled,
    UndecodablePayload,
    UnknownPriority,
    UnknownQueue,
    UnknownState,
    WorkerLost,
)
from .events import Event
from .failed import FailedFilter, FailedJob, FailedPage, FailedStore
from .limits import QueueLimits, RateLimit, Unique
from .progress import JobReporter, reporter
from .recovery import RecoveryHook
from .registry import JobCall, JobFunction, current_client, job, use_client
from .retention import QueueRetention
from .schedule_store import ScheduleState
from .schedule_types import Condition, Metric, Misfire, Timed, cron, every
from .throttle import Grant, Rate, SharedRateLimiter
from .types import JobContext, JobState, Priority, Retention
from .views import AbortOutcome, AbortResult, Counts, JobInfo, JobPage, LogLine, QueueStats, Totals
from .worker_settings import worker_settings

__version__ = "0.1.0"

__all__ = [
    "AbortOutcome",
    "AbortResult",
    "Backoff",
    "Batch",
    "BatchClosed",
    "BatchError",
    "BatchInfo",
    "BatchNotFound",
    "BatchPage",
    "BatchProgress",
    "BatchStatus",
    "Client",
    "Condition",
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
    "Grant",
    "InvalidArgument",
    "Job",
    "JobAborted",
    "JobAlreadyStarted",
    "JobCall",
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
    "Metric",
    "Misfire",
    "PayloadTooLarge",
    "PermanentFailure",
    "Priority",
    "QueueAPI",
    "QueueConfig",
    "QueueLimits",
    "QueueRetention",
    "QueueStats",
    "QueueSystemError",
    "Rate",
    "RateLimit",
    "RecoveryHook",
    "RedisUnavailable",
    "Retention",
    "Retry",
    "ScheduleNotFound",
    "ScheduleState",
    "SerializationError",
    "SharedRateLimiter",
    "SlowDown",
    "Throttled",
    "Timed",
    "Totals",
    "UndecodablePayload",
    "Unique",
    "UnknownPriority",
    "UnknownQueue",
    "UnknownState",
    "WorkerLost",
    "__version__",
    "alerts",
    "cron",
    "current_client",
    "every",
    "job",
    "reporter",
    "use_client",
    "worker_settings",
]
