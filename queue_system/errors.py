"""One rooted error hierarchy for the framework.

Control-flow signals (a job asking to be retried or postponed) are kept apart from real failures, so that
middleware can tell "try again later" from "this went wrong" without string matching::

    QueueSystemError
    ├── ConfigError                  bad or unknown settings, refused loudly at start-up
    ├── EnqueueError                 nothing was written
    │   ├── SerializationError       an argument cannot be encoded as JSON
    │   ├── PayloadTooLarge          the encoded payload is over the configured limit
    │   └── UnknownQueue / UnknownPriority
    ├── RedisUnavailable             Redis did not answer in time
    ├── JobNotFound                  no such job (or failed-store entry)
    │   └── BatchNotFound            no such batch
    ├── JobAlreadyStarted            reschedule/cancel of a deferred job that already started (or ended)
    ├── ScheduleNotFound             no schedule of that name
    ├── BatchError                   a batch refused a change; nothing was written
    │   └── BatchClosed              the batch finished or was cancelled: no jobs can be added
    ├── UnknownState                 not a job state, or a state an operation does not accept
    ├── JobStateConflict             the job exists but its state does not allow the action (retry a running job)
    ├── JobAborted                   stored as the outcome of an aborted job (job.result() raises JobFailed)
    ├── Retry                        raised by a job: retry after ``defer`` seconds (counts a try)
    ├── SlowDown                     raised by a job: the remote said "slow down"; postpone, no try counted
    │   └── Throttled                the shared rate limiter (throttle.py) would wait longer than allowed
    ├── JobFailed                    a job's result read back as a failure (carries type and message)
    ├── PermanentFailure             raised by a job: fail at once, never retry
    │   ├── UndecodablePayload       the stored payload is not valid JSON (e.g. a planted pickle)
    │   ├── FunctionNotFound         no function registered under the job's name
    │   └── WorkerLost               the job's worker died too many times while running it
    └── JobTimeout                   the job ran longer than its timeout (retried by policy)

Each class carries ``http_status``, how the HTTP API answers when it reaches a request (default 400).
Applications root their own errors here too (jobs/errors.py).
"""

from __future__ import annotations

from typing import ClassVar


class QueueSystemError(Exception):
    """Base of every error this package raises on purpose (and of the applications' own: jobs/errors.py)."""

    #: how an HTTP API answers when this error reaches it (web/errors.py): the error knows what it means
    http_status: ClassVar[int] = 400


class ConfigError(QueueSystemError):
    """Settings are invalid or unknown; raised at start-up so mistakes never pass silently."""


class EnqueueError(QueueSystemError):
    """The job was not enqueued and nothing was written to Redis."""


class SerializationError(EnqueueError):
    """An argument or result cannot be represented in the JSON payload format."""


class PayloadTooLarge(EnqueueError):
    """The encoded payload exceeds ``max_payload_bytes``; large data belongs outside the queue."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload is {size} bytes, over the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class UnknownQueue(EnqueueError):
    """The queue name is not valid."""


class UnknownPriority(EnqueueError):
    """The priority is not one of critical, high, normal, low, background."""


class RedisUnavailable(QueueSystemError):
    """Redis could not be reached within the configured time."""

    http_status = 503


class JobNotFound(QueueSystemError):
    """No job (or failed-store entry) with this id exists."""

    http_status = 404


class JobAlreadyStarted(QueueSystemError):
    """A deferred job could not be rescheduled or cancelled: it already started (or finished). ``state`` says
    which; the job itself is left as it is."""

    http_status = 409

    def __init__(self, job_id: str, state: str) -> None:
        super().__init__(f"job {job_id} already {'started' if state == 'active' else state}; it was not changed")
        self.job_id = job_id
        self.state = state


class ScheduleNotFound(QueueSystemError):
    """No schedule (declared or added at run time) has this name."""

    http_status = 404


class BatchNotFound(JobNotFound):
    """No batch with this id exists (pruned, or never created). A "not found" like a job's: CLI exit 3."""


class BatchError(QueueSystemError):
    """A batch refused a change (a bad callback, an id taken, a reserved tag); nothing was written."""


class BatchClosed(BatchError):
    """The batch finished or was cancelled, so no jobs can be added to it."""


class InvalidArgument(QueueSystemError, ValueError):
    """An argument is out of the range the operation accepts (a negative or infinite age, say)."""


class UnknownState(QueueSystemError):
    """The name is not a job state, or the operation does not accept that state (e.g. cleaning active jobs)."""


class JobStateConflict(QueueSystemError):
    """The job exists, but its state does not allow the action (removing a running job, retrying a waiting one)."""

    http_status = 409


class JobAborted(QueueSystemError):
    """The job was aborted: removed before it ran, or cancelled while it ran. Recorded as its outcome."""


class JobFailed(QueueSystemError):
    """A job's stored outcome is a failure; ``exc_type`` and ``message`` describe the original exception."""

    def __init__(self, exc_type: str, message: str) -> None:
        super().__init__(f"{exc_type}: {message}" if message else exc_type)
        self.exc_type = exc_type
        self.message = message


class PermanentFailure(QueueSystemError):
    """Raise from a job to fail it at once, skipping any remaining tries."""


class UndecodablePayload(PermanentFailure):
    """The job's stored payload could not be decoded; no job code was run."""


class FunctionNotFound(PermanentFailure):
    """The job names a function that no worker has registered."""


class WorkerLost(PermanentFailure):
    """The job's worker process disappeared while running it more often than the crash budget allows."""


class JobTimeout(QueueSystemError, TimeoutError):
    """The job ran past its timeout. It is a failure and is retried by the job's policy."""


class Retry(QueueSystemError):
    """Raise from a job to ask for another try after ``defer`` seconds instead of the policy's backoff.

    It counts a try; on the last allowed try the job fails instead.
    """

    def __init__(self, defer: float = 0.0, reason: str = "") -> None:
        super().__init__(reason or f"retry requested in {defer:g}s")
        self.defer = defer


class SlowDown(QueueSystemError):
    """Raise from a job when the remote side asked to slow down (HTTP 429 with Retry-After, WhatsApp 130429).

    The job is postponed by ``retry_after`` seconds without counting a try: it is a control-flow signal, not a
    failure, so it never reaches the failed store and never uses up the job's retries.
    """

    def __init__(self, retry_after: float, reason: str = "") -> None:
        if retry_after < 0:
            raise ValueError("retry_after must be >= 0 seconds")
        super().__init__(reason or f"slow down: postponed by {retry_after:g}s")
        self.retry_after = float(retry_after)


class Throttled(SlowDown):
    """``SharedRateLimiter.acquire(max_wait_s=…)`` would have had to wait longer than ``max_wait_s``.

    A ``SlowDown``: left to propagate out of a job, the job is postponed by the wait without counting a try,
    instead of holding a worker slot asleep while the scope is paused or its rate is spoken for.
    """

    def __init__(self, scope: str, wait_s: float) -> None:
        super().__init__(wait_s, f"{scope}: throttled for {wait_s:.3g}s by the shared rate limiter")
        self.scope = scope
