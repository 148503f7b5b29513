"""When a schedule fires: cron expressions (croniter) and fixed intervals, as one small ``Trigger`` interface.

Times are integer milliseconds since the epoch, the unit every score and record in Redis uses, so a tick is an
exact value two workers agree on (the claim in lua/schedule_claim.lua compares it as a string).

Cron expressions take the standard 5 fields (minute hour day month weekday) or 6 with **seconds first**
(``"*/10 * * * * *"`` every ten seconds), evaluated in the schedule's time zone (``"Asia/Jakarta"``; UTC by
default), so "2 AM" means 2 AM local time across daylight-saving changes. Parsing is croniter's; nothing here
re-implements cron. croniter is imported on first use, so ``import queue_system`` (every CLI start) does not pay
for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError

if TYPE_CHECKING:
    from croniter import croniter


class Trigger(Protocol):
    """The ticks of a schedule: strictly increasing millisecond timestamps."""

    def next_after(self, ms: int) -> int:
        """The first tick strictly after ``ms``."""
        ...

    def prev_before(self, ms: int) -> int:
        """The last tick strictly before ``ms``."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class CronTrigger:
    expression: str
    tz: str = "UTC"

    def __post_init__(self) -> None:
        fields = self.expression.split()
        if len(fields) not in (5, 6):
            raise ConfigError(f"cron {self.expression!r}: use 5 fields, or 6 with seconds first")
        try:
            self._iter(0)
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"cron {self.expression!r} is not valid: {exc}") from exc

    def _zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {self.tz!r}") from exc

    def _at(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC).astimezone(self._zone())

    def _iter(self, ms: int) -> croniter:
        from croniter import croniter

        return croniter(self.expression, self._at(ms), second_at_beginning=len(self.expression.split()) == 6)

    def next_after(self, ms: int) -> int:
        # croniter works in whole seconds: start from the second that contains ms, then step past ms
        tick = int(self._iter(ms - ms % 1000).get_next(float) * 1000)
        while tick <= ms:
            tick = int(self._iter(tick).get_next(float) * 1000)
        return tick

    def prev_before(self, ms: int) -> int:
        start = ms - ms % 1000 + (1000 if ms % 1000 else 0)  # croniter's get_prev is strictly before its start
        tick = int(self._iter(start).get_prev(float) * 1000)
        while tick >= ms:
            tick = int(self._iter(tick).get_prev(float) * 1000)
        return tick

    def describe(self) -> str:
        return f"cron {self.expression}" + ("" if self.tz == "UTC" else f" ({self.tz})")


@dataclass(frozen=True)
class IntervalTrigger:
    """Every ``every_s`` seconds from ``anchor_ms`` (when the schedule was created), so ticks stay on one grid
    however late a worker looks."""

    every_s: float
    anchor_ms: int = 0

    def __post_init__(self) -> None:
        if self.every_s < 0.1:
            raise ConfigError("an interval schedule needs every_s >= 0.1")

    @property
    def _step(self) -> int:
        return int(self.every_s * 1000)

    def next_after(self, ms: int) -> int:
        if ms < self.anchor_ms:
            return self.anchor_ms
        return self.anchor_ms + ((ms - self.anchor_ms) // self._step + 1) * self._step

    def prev_before(self, ms: int) -> int:
        return self.anchor_ms + ((ms - self.anchor_ms - 1) // self._step) * self._step

    def describe(self) -> str:
        return f"every {self.every_s:g}s"
