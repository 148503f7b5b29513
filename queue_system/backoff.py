"""Retry delay strategies. Each maps the number of the try that just failed (1-based) to seconds to wait.

The seeds' numbers are expressed directly: certificates ``Exponential(2)`` gives 2 s, 4 s, 8 s; emails
``Exponential(3)`` gives 3, 6, 12, 24, 48 s; BullMQ's ``{type: 'exponential', delay, factor, maxDelay}`` maps to
``Exponential(delay, factor=factor, max_delay=maxDelay)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigError


class Backoff:
    """Base strategy. ``jitter`` (0..1) spreads retries by up to that fraction of the delay, either way."""

    jitter: float = 0.0

    def base_delay(self, failed_try: int) -> float:
        raise NotImplementedError

    def delay(self, failed_try: int) -> float:
        base = max(0.0, self.base_delay(max(1, failed_try)))
        if self.jitter:
            base *= 1 + random.uniform(-self.jitter, self.jitter)
        return max(0.0, base)

    def __post_init__(self) -> None:
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"jitter must be between 0 and 1, not {self.jitter}")


@dataclass(frozen=True)
class Fixed(Backoff):
    """The same delay before every retry."""

    seconds: float = 5.0
    jitter: float = 0.0

    def base_delay(self, failed_try: int) -> float:
        return self.seconds


@dataclass(frozen=True)
class Linear(Backoff):
    """``seconds * failed_try``, optionally capped: 5, 10, 15 …"""

    seconds: float = 5.0
    max_delay: float | None = None
    jitter: float = 0.0

    def base_delay(self, failed_try: int) -> float:
        value = self.seconds * failed_try
        return min(value, self.max_delay) if self.max_delay is not None else value


@dataclass(frozen=True)
class Exponential(Backoff):
    """``seconds * factor ** (failed_try - 1)``, capped by ``max_delay``: 2, 4, 8 …"""

    seconds: float = 1.0
    factor: float = 2.0
    max_delay: float | None = None
    jitter: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.factor < 1:
            raise ConfigError(f"exponential factor must be >= 1, not {self.factor}")

    def base_delay(self, failed_try: int) -> float:
        value = self.seconds * self.factor ** (failed_try - 1)
        return min(value, self.max_delay) if self.max_delay is not None else value


@dataclass(frozen=True)
class Custom(Backoff):
    """Any callable ``(failed_try) -> seconds``."""

    function: Callable[[int], float]
    jitter: float = 0.0

    def base_delay(self, failed_try: int) -> float:
        return float(self.function(failed_try))


def as_backoff(value: Backoff | float | int | Callable[[int], float] | None) -> Backoff:
    """Accept a strategy, a number of seconds (fixed) or a callable (custom)."""
    if value is None:
        return Fixed(0)
    if isinstance(value, Backoff):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Fixed(float(value))
    if callable(value):
        return Custom(value)
    raise ConfigError(f"backoff must be a Backoff, a number of seconds or a callable, not {value!r}")
