"""The public API is exactly what ``queue_system.__all__`` lists, and every name in it exists."""

from __future__ import annotations

import queue_system

EXPECTED = {
    "Batch",
    "BatchClosed",
    "BatchError",
    "BatchInfo",
    "BatchNotFound",
    "BatchPage",
    "BatchProgress",
    "BatchStatus",
    "JobCall",
    "QueueLimits",
    "RateLimit",
    "SlowDown",
    # the shared rate limiter for requests (throttle.py)
    "Grant",
    "Rate",
    "SharedRateLimiter",
    "Throttled",
    "Unique",
    "AbortOutcome",
    "AbortResult",
    "Counts",
    "Event",
    "JobAborted",
    "JobInfo",
    "JobPage",
    "JobReporter",
    "JobState",
    "LogLine",
    "QueueAPI",
    "QueueRetention",
    "QueueStats",
    "Retention",
    "Totals",
    "UnknownState",
    "reporter",
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
    "InvalidArgument",
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
    # scheduling
    "Condition",
    "JobAlreadyStarted",
    "Metric",
    "Misfire",
    "RecoveryHook",
    "ScheduleNotFound",
    "ScheduleState",
    "Timed",
    "alerts",
    "cron",
    "every",
}


def test_all_is_the_documented_surface() -> None:
    assert set(queue_system.__all__) == EXPECTED
    assert sorted(queue_system.__all__) == queue_system.__all__


def test_every_exported_name_exists() -> None:
    for name in queue_system.__all__:
        assert hasattr(queue_system, name), name


def test_every_error_is_rooted_in_queue_system_error() -> None:
    errors = [getattr(queue_system, n) for n in queue_system.__all__ if n.endswith(("Error", "Failure"))]
    errors += [
        queue_system.JobFailed,
        queue_system.JobNotFound,
        queue_system.PayloadTooLarge,
        queue_system.Retry,
        queue_system.WorkerLost,
        queue_system.JobTimeout,
        queue_system.RedisUnavailable,
    ]
    assert all(issubclass(e, queue_system.QueueSystemError) for e in errors)
