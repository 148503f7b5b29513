"""Declaring limits: rate limits, concurrency caps and unique jobs (values only; Redis is in admission.py).

    @job(queue="whatsapp", rate_limit=RateLimit(1, per=6, key=lambda to, *_: to), concurrency=10)
    async def send_message(ctx, to: str, text: str) -> None: ...

    @job(unique=Unique.debounce(5))            # a burst of "reindex product 7" runs once, 5 s after the last
    async def reindex(ctx, product_id: int) -> None: ...

    worker_settings(..., limits={"product-items": QueueLimits(rate=RateLimit(5, per=10), concurrency=2)})

A rate limit counts job *starts* in a sliding window (at most ``limit`` starts in any ``per``-second window,
across every worker process); a concurrency cap counts jobs *running* at once. Both are enforced in Redis.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from .errors import ConfigError

KeyFunction = Callable[..., Any]
# Longest a limit key may be before it is hashed (it becomes part of a Redis key).
MAX_KEY_CHARS = 200


@dataclass(frozen=True)
class RateLimit:
    """At most ``limit`` job starts in any window of ``per`` seconds, shared by all workers.

    ``key`` makes it one limit per key, computed from the job's arguments as the function receives them
    (without ``ctx``): ``RateLimit(1, per=6, key=lambda to, *_: to)`` is one message per recipient per 6 s.
    """

    limit: int
    per: float
    key: KeyFunction | None = None

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise ConfigError(f"RateLimit.limit must be an integer >= 1, not {self.limit!r}")
        if not isinstance(self.per, int | float) or self.per <= 0:
            raise ConfigError(f"RateLimit.per must be > 0 seconds, not {self.per!r}")
        if self.key is not None and not callable(self.key):
            raise ConfigError(f"RateLimit.key must be callable, not {self.key!r}")

    @property
    def window_ms(self) -> int:
        return max(1, round(self.per * 1000))

    def key_for(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        """The limit key of one job; a bad key function is a configuration error, not a job failure."""
        if self.key is None:
            return ""
        try:
            value = self.key(*args, **kwargs)
        except Exception as exc:
            raise ConfigError(f"rate limit key function failed: {type(exc).__name__}: {exc}") from exc
        return bounded_key(str(value)) or "-"


@dataclass(frozen=True)
class QueueLimits:
    """Limits for every job of one queue (on top of each function's own)."""

    rate: RateLimit | None = None
    concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.rate is not None and self.rate.key is not None:
            raise ConfigError("a queue's rate limit cannot be keyed; key the function's rate_limit instead")
        check_concurrency(self.concurrency, "queue concurrency")


def check_concurrency(value: int | None, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{what} must be an integer >= 1, not {value!r}")


class UniqueMode(StrEnum):
    WHILE_ACTIVE = "active"  # one job per key while it waits or runs
    TTL = "ttl"  # one job per key per TTL, whatever happens to it (throttle)
    DEBOUNCE = "debounce"  # the newest enqueue wins; it runs ``seconds`` after the last enqueue


@dataclass(frozen=True)
class Unique:
    """How enqueues of the same unique key collapse. Build with the class methods.

    ``key`` computes the unique key from the job's arguments; by default all arguments are the key.
    """

    mode: UniqueMode
    seconds: float = 0.0
    key: KeyFunction | None = None

    def __post_init__(self) -> None:
        if self.mode is not UniqueMode.WHILE_ACTIVE and self.seconds <= 0:
            raise ConfigError(f"Unique {self.mode.value}: seconds must be > 0")
        if self.key is not None and not callable(self.key):
            raise ConfigError(f"Unique.key must be callable, not {self.key!r}")

    @classmethod
    def while_active(cls, *, key: KeyFunction | None = None) -> Unique:
        """A second enqueue while the first job waits or runs returns the first job."""
        return cls(UniqueMode.WHILE_ACTIVE, key=key)

    @classmethod
    def throttle(cls, seconds: float, *, key: KeyFunction | None = None) -> Unique:
        """One job per key per ``seconds`` from the first enqueue; later enqueues return that job."""
        return cls(UniqueMode.TTL, float(seconds), key)

    @classmethod
    def debounce(cls, seconds: float, *, key: KeyFunction | None = None) -> Unique:
        """Every enqueue is deferred by ``seconds``; a newer one replaces the waiting job (same id, new
        arguments) and resets its delay, so a burst runs once, after it ends."""
        return cls(UniqueMode.DEBOUNCE, float(seconds), key)

    @property
    def ttl_ms(self) -> int:
        return max(1, round(self.seconds * 1000))

    def key_for(self, function: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        if self.key is not None:
            try:
                value = str(self.key(*args, **kwargs))
            except Exception as exc:
                raise ConfigError(f"unique key function failed: {type(exc).__name__}: {exc}") from exc
        else:
            raw = orjson.dumps([list(args), dict(kwargs)], option=orjson.OPT_SORT_KEYS, default=str)
            value = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
        return f"{function}:{bounded_key(value)}"


def bounded_key(value: str) -> str:
    """Keys become parts of Redis keys: long ones are replaced by their digest."""
    if len(value) <= MAX_KEY_CHARS:
        return value
    return "sha1-" + hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()
