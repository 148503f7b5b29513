"""What a job declaration holds: its policy (queue, priority, tries, timeout, backoff, retry rules, retention).

Producers need only the routing part (:class:`FunctionInfo`); workers publish it to Redis so a producer that
never imported the job's module still enqueues to the right queue with the right priority.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .backoff import Backoff, Exponential
from .errors import ConfigError, PermanentFailure, UnknownQueue
from .keys import DEFAULT_QUEUE, queue_key, validate_queue_name
from .limits import RateLimit, Unique, check_concurrency
from .serialization import dumps, loads
from .types import Priority, Retention

# Internal functions the worker routes undecodable payloads and unknown names to, so they reach the failed
# store through the normal middleware instead of vanishing inside arq.
UNDECODABLE_FUNCTION = "qs:undecodable-payload"
UNKNOWN_FUNCTION = "qs:function-not-found"
UNENCRYPTED_FUNCTION = "qs:unencrypted-sensitive-payload"
DEFAULT_BACKOFF: Backoff = Exponential(1.0)


@dataclass(frozen=True)
class FunctionInfo:
    """Routing facts a producer needs: where a function's jobs go and how they are encoded."""

    queue: str = DEFAULT_QUEUE
    priority: Priority = Priority.NORMAL
    sensitive: bool = False

    def to_json(self) -> bytes:
        return dumps(
            {
                "queue": self.queue,
                "queue_key": queue_key(self.queue),
                "priority": int(self.priority),
                "sensitive": self.sensitive,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> FunctionInfo:
        data = loads(raw)
        return cls(queue=data["queue"], priority=Priority.parse(data["priority"]), sensitive=bool(data["sensitive"]))


@dataclass(frozen=True)
class JobSpec:
    """A job function and its policy."""

    name: str
    function: Callable[..., Awaitable[Any]]
    queue: str = DEFAULT_QUEUE
    priority: Priority = Priority.NORMAL
    max_tries: int = 3
    timeout_s: float = 300.0
    backoff: Backoff = DEFAULT_BACKOFF
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    fail_on: tuple[type[BaseException], ...] = ()
    keep_result_s: float | None = None
    sensitive: bool = False
    # Finished records of this job's queue (see retention.py); None = the queue's or the configured default.
    keep_completed: Retention | None = None
    keep_failed: Retention | None = None
    # Limits (limits.py): starts per window and running at once across all workers; how enqueues collapse.
    rate_limit: RateLimit | None = None
    concurrency: int | None = None
    unique: Unique | None = None

    def __post_init__(self) -> None:
        if not inspect.iscoroutinefunction(self.function):
            raise ConfigError(f"job {self.name!r}: {self.function!r} is not an async function")
        try:
            validate_queue_name(self.queue)
        except UnknownQueue as exc:
            raise ConfigError(f"job {self.name!r}: {exc}") from exc
        if self.max_tries < 1:
            raise ConfigError(f"job {self.name!r}: max_tries must be >= 1")
        if self.timeout_s <= 0:
            raise ConfigError(f"job {self.name!r}: timeout must be > 0 seconds")
        try:
            check_concurrency(self.concurrency, "concurrency")
        except ConfigError as exc:
            raise ConfigError(f"job {self.name!r}: {exc}") from None
        for exc_type in (*self.retry_on, *self.fail_on):
            if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
                raise ConfigError(f"job {self.name!r}: {exc_type!r} is not an exception type")

    @property
    def info(self) -> FunctionInfo:
        return FunctionInfo(queue=self.queue, priority=self.priority, sensitive=self.sensitive)

    @property
    def limited(self) -> bool:
        """Whether a worker must admit this function's jobs (a rate limit or a cap of its own)."""
        return self.rate_limit is not None or self.concurrency is not None

    def is_retryable(self, exc: BaseException) -> bool:
        """Retry what ``retry_on`` names unless ``fail_on`` or :class:`PermanentFailure` says otherwise."""
        if isinstance(exc, (PermanentFailure, *self.fail_on)):
            return False
        return isinstance(exc, self.retry_on)
