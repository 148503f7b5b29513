"""Small shared value types: priorities, job states, retention policies and the job context."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

from .errors import ConfigError, UnknownPriority, UnknownState


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


class JobState(StrEnum):
    """The one state every job is in. The Lua scripts that move a job are the only writers of its state."""

    WAITING = "waiting"  # ready to run, in priority order
    DELAYED = "delayed"  # deferred until its due time, never tried
    ACTIVE = "active"  # claimed by a worker (or its worker died and the job awaits re-claiming)
    RETRYING = "retrying"  # failed a try, waiting for its backoff to run out
    COMPLETED = "completed"
    FAILED = "failed"
    ABORTED = "aborted"

    @classmethod
    def parse(cls, value: JobState | str) -> JobState:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise UnknownState(f"unknown job state {value!r}; use one of {names}") from None

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.ABORTED})
QUEUED_STATES = frozenset({JobState.WAITING, JobState.DELAYED, JobState.RETRYING})


@dataclass(frozen=True)
class Retention:
    """How many finished job records a queue keeps, and for how long (BullMQ's ``removeOnComplete {age, count}``).

    ``count=None`` keeps any number, ``age_s=None`` means the default age (a completed job's ``keep_result``,
    ``QS_KEEP_FAILED_AGE_S`` for failed ones). A record is removed when either limit is passed; its result, its
    logs and its counts go with it.
    """

    count: int | None = None
    age_s: float | None = None

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 0:
            raise ConfigError("retention count must be >= 0")
        if self.age_s is not None and self.age_s < 0:
            raise ConfigError("retention age must be >= 0 seconds")

    @classmethod
    def parse(cls, value: Retention | int | None) -> Retention | None:
        """``10`` keeps the last ten; a :class:`Retention` is taken as is."""
        if value is None or isinstance(value, Retention):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(count=value)
        raise ConfigError(f"retention must be a count or Retention(count=, age_s=), not {value!r}")

    def merged_over(self, default: Retention) -> Retention:
        """This policy with its unset fields taken from ``default``."""
        return Retention(
            self.count if self.count is not None else default.count,
            self.age_s if self.age_s is not None else default.age_s,
        )


# The context dict arq passes as a job's first argument. arq fills redis, job_id, job_try, enqueue_time and
# score; the framework adds its own entries under "qs_" names (see middleware.context).
JobContext = dict[str, Any]
