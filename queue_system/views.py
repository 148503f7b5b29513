"""The read model's value types: what the public read API (api.py) returns to the CLI, the dashboard and code.

Each is a frozen dataclass with ``to_dict()`` for JSON. Times are epoch milliseconds. Arguments and results of
sensitive jobs are never shown: they read ``"<redacted>"``, whatever keys the reader holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any

from .types import JobState

REDACTED = "<redacted>"


@dataclass(frozen=True)
class Counts:
    """Jobs per state (of a queue, or of a queue's jobs with one tag)."""

    waiting: int = 0
    delayed: int = 0
    active: int = 0
    retrying: int = 0
    completed: int = 0
    failed: int = 0
    aborted: int = 0

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> Counts:
        return cls(**{f.name: int(raw.get(f.name.encode(), 0)) for f in fields(cls)})

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def __getitem__(self, state: JobState | str) -> int:
        return int(getattr(self, JobState.parse(state).value))

    @property
    def total(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self))

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Totals:
    """Outcomes recorded since the first job, never decremented by retention or clean (progress of a batch)."""

    completed: int = 0
    failed: int = 0
    aborted: int = 0

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> Totals:
        return cls(**{f.name: int(raw.get(f"total_{f.name}".encode(), 0)) for f in fields(cls)})

    def __add__(self, other: Totals) -> Totals:
        return Totals(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class QueueStats:
    queue: str
    paused: bool
    counts: Counts
    totals: Totals
    tag: str | None = None  # "k=v" when these are the counts of the queue's jobs with that tag
    function: str | None = None  # the function, when these are the counts of the queue's jobs of that function

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "paused": self.paused,
            "tag": self.tag,
            "function": self.function,
            "counts": self.counts.to_dict(),
            "totals": self.totals.to_dict(),
        }


@dataclass(frozen=True)
class LogLine:
    at_ms: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobInfo:
    """Everything known about one job. ``result`` is set for completed jobs; ``error`` is the last error (of a
    failed, aborted or retrying job, or of the try before a completed job's success); ``failure`` holds the
    failed store's entry (reason, traceback) when there is one."""

    job_id: str
    state: JobState
    queue: str
    function: str
    priority: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    tries: int = 0
    enqueued_at_ms: int | None = None
    started_at_ms: int | None = None
    finished_at_ms: int | None = None
    due_at_ms: int | None = None
    progress: float | None = None
    progress_message: str = ""
    args: list[Any] | str = field(default_factory=list)
    kwargs: dict[str, Any] | str = field(default_factory=dict)
    result: Any = None
    error: str | None = None
    failure: dict[str, Any] | None = None
    logs: list[LogLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["state"] = self.state.value
        data["logs"] = [line.to_dict() for line in self.logs]
        return data


@dataclass(frozen=True)
class JobPage:
    """One page of a listing. ``total`` is the exact number of jobs the listing holds (None: unknown -- a
    payload search, or more active jobs than are listed); ``more`` says whether further matches follow. A search
    answers ``next_cursor`` (where to continue), ``scanned`` (entries this call read) and ``search_space`` (the
    size of the index it walks, when a function or tag narrowed it)."""

    queue: str
    state: JobState
    offset: int
    limit: int
    total: int | None
    more: bool
    jobs: list[JobInfo]
    next_cursor: int | None = None  # a search's position to continue from (None: not a search, or its end)
    scanned: int | None = None  # entries a search read in this call
    search_space: int | None = None  # entries the searched index holds (a filtered search)

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "state": self.state.value,
            "offset": self.offset,
            "limit": self.limit,
            "total": self.total,
            "more": self.more,
            "next_cursor": self.next_cursor,
            "scanned": self.scanned,
            "search_space": self.search_space,
            "jobs": [job.to_dict() for job in self.jobs],
        }


class AbortOutcome(StrEnum):
    ABORTED = "aborted"  # taken off its queue before it ran
    CANCELLING = "cancelling"  # it was running: its worker was told and cancels it within about a second
    FINISHED = "finished"  # it had ended already; nothing changed
    NOT_FOUND = "not_found"  # no record of it; nothing was written (a job enqueued later with this id runs)


@dataclass(frozen=True)
class AbortResult:
    job_id: str
    outcome: AbortOutcome
    previous_state: JobState | None
    state: JobState | None = None  # the state after the call (after waiting, for a running job)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "outcome": self.outcome.value,
            "previous_state": self.previous_state and self.previous_state.value,
            "state": self.state and self.state.value,
        }


@dataclass(frozen=True)
class JobAction:
    """What an action on one job did: ``outcome`` (removed, promoted, retried) and the state it found."""

    job_id: str
    outcome: str
    previous_state: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Throughput:
    """Jobs completed and failed per minute over the last ``minutes`` (oldest first), read from the event
    stream (so at most what it still holds, about ``QS_EVENTS_MAXLEN`` events)."""

    start_ms: int
    minutes: int
    completed: list[int]
    failed: list[int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
