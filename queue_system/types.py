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


# The context dict arq passes as a job's first argument. arq fills redis, job_id, job_try, enqueue_time and
# score; the framework adds its own entries under "qs_" names (see middleware.context).
JobContext = dict[str, Any]
