"""Small shared value types: priorities and the job context handed to every job function."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from .errors import UnknownPriority


class Priority(IntEnum):
    """Five priority levels, highest first. Lower value runs first (it is also the score band index)."""

    CRITICAL = 0
    HIGH = 1
    NORMAL = 2
    LOW = 3
    BACKGROUND = 4

    @classmethod
    def parse(cls, value: Priority | str | int) -> Priority:
        """Accept a Priority, its name in any case (``"high"``) or its number; refuse anything else."""
        if isinstance(value, Priority):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                pass
        elif isinstance(value, int) and not isinstance(value, bool) and value in cls._value2member_map_:
            return cls(value)
        names = ", ".join(p.name.lower() for p in cls)
        raise UnknownPriority(f"unknown priority {value!r}; use one of {names}")

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_score(cls, score: float) -> Priority | None:
        """The priority a queue score carries: its band when ready, its fraction when deferred (see enqueue.lua)."""
        if score < READY_SCORE_CEILING:
            band = int(score // PRIORITY_BAND)
            return cls(band) if band in cls._value2member_map_ else None
        fraction = round((score - int(score)) * 10)
        return cls(fraction - 1) if 1 <= fraction <= len(cls) else None

    def deferred_score(self, due_ms: int) -> float:
        return due_ms + (int(self) + 1) / 10


# Ready jobs score priority * PRIORITY_BAND + sequence, all below READY_SCORE_CEILING (far below "now" in ms).
PRIORITY_BAND = 10**11
READY_SCORE_CEILING = 10**12


# The context dict arq passes as a job's first argument. arq fills redis, job_id, job_try, enqueue_time and
# score; the framework adds its own entries under "qs_" names (see middleware.context).
JobContext = dict[str, Any]
