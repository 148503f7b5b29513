"""What a schedule is: a timed one (cron or interval) or a condition one, stored in Redis as JSON.

    cron(prune_failed_jobs, "0 2 * * *", tz="Asia/Jakarta")               # declared in worker_settings
    cron("sync-templates", "*/30 * * * *", misfire="run_once")
    every("poll-shop", 60, args=["shop-1"])
    Condition("scraping-backlog", "send-email", queue="scraping", metric="waiting", threshold=50,
              cooldown_s=600, kwargs={"to": "ops@example.com", "template": "queue-alert"}, reading_kwarg="data")

Both kinds enqueue a named job with fixed arguments; a condition schedule can hand its reading (metric, value,
threshold, time) to the job as one keyword argument, which is how the alert rules (alerts.py) fill their email or
webhook. Schedules declared in code and those added at run time (QueueAPI/CLI) are the same records; ``origin``
only says where one came from.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from .cron import CronTrigger, IntervalTrigger, Trigger
from .errors import ConfigError
from .keys import validate_queue_name
from .serialization import dumps, loads

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


class Misfire(StrEnum):
    """What a cron does with ticks that passed while no worker ran (older than its ``misfire_grace_s``)."""

    SKIP = "skip"  # drop them; run again at the next tick
    RUN_ONCE = "run_once"  # one catch-up run standing for all of them
    CATCH_UP = "catch_up"  # run each of them, the latest ``catch_up_limit`` at most

    @classmethod
    def parse(cls, value: Misfire | str) -> Misfire:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ConfigError(f"unknown misfire policy {value!r}; use skip, run_once or catch_up") from None


class Metric(StrEnum):
    """What a condition schedule watches on one queue."""

    WAITING = "waiting"  # jobs ready to run (fires above the threshold)
    OLDEST_WAITING_S = "oldest_waiting_s"  # age of the oldest waiting job (above)
    FAILED = "failed"  # jobs failed within the last window_s seconds (above)
    WORKERS = "workers"  # workers alive serving the queue (fires below the threshold)

    @classmethod
    def parse(cls, value: Metric | str) -> Metric:
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            names = ", ".join(m.value for m in cls)
            raise ConfigError(f"unknown metric {value!r}; use one of {names}") from None


class Named(Protocol):
    """A declared job handle (``JobFunction``) or anything else with a ``name``."""

    @property
    def name(self) -> str: ...


def validate_schedule_name(name: str) -> str:
    """Schedule names become parts of Redis keys and job ids."""
    if not name or len(name) > 100 or not set(name) <= _NAME_CHARS:
        raise ConfigError(f"invalid schedule name {name!r}: use letters, digits, '-', '_', '.', ':' (max 100)")
    return name


@dataclass(frozen=True)
class Timed:
    """Enqueue ``function`` at every tick of a cron expression or a fixed interval."""

    name: str
    function: str
    cron: str | None = None
    every_s: float | None = None
    tz: str = "UTC"
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    queue: str | None = None
    misfire: Misfire = Misfire.SKIP
    catch_up_limit: int = 10
    misfire_grace_s: float = 5.0
    anchor_ms: int = 0
    origin: str = "declared"

    def __post_init__(self) -> None:
        validate_schedule_name(self.name)
        if self.queue is not None:
            validate_queue_name(self.queue)
        if (self.cron is None) == (self.every_s is None):
            raise ConfigError(f"schedule {self.name!r}: give either a cron expression or every_s")
        object.__setattr__(self, "misfire", Misfire.parse(self.misfire))
        object.__setattr__(self, "args", list(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        if self.catch_up_limit < 1:
            raise ConfigError("catch_up_limit must be >= 1")
        if self.misfire_grace_s < 0:
            raise ConfigError("misfire_grace_s must be >= 0")
        self.trigger()  # refuse a bad expression or time zone now, not at the first tick

    kind = "timed"

    def trigger(self) -> Trigger:
        if self.cron is not None:
            return CronTrigger(self.cron, self.tz)
        return IntervalTrigger(float(self.every_s or 0), self.anchor_ms)

    def describe(self) -> str:
        return self.trigger().describe()


@dataclass(frozen=True)
class Condition:
    """Enqueue ``function`` when ``metric`` of ``queue`` crosses ``threshold``, at most once per ``cooldown_s``."""

    name: str
    function: str
    queue: str
    metric: Metric
    threshold: float
    window_s: float = 300.0
    cooldown_s: float = 300.0
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    target_queue: str | None = None
    reading_kwarg: str | None = None
    origin: str = "declared"

    kind = "condition"

    def __post_init__(self) -> None:
        validate_schedule_name(self.name)
        object.__setattr__(self, "metric", Metric.parse(self.metric))
        for queue in (self.queue, self.target_queue):
            if queue is not None:
                validate_queue_name(queue)
        for number in ("threshold", "window_s", "cooldown_s"):
            object.__setattr__(self, number, float(getattr(self, number)))
        object.__setattr__(self, "args", list(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))
        if self.cooldown_s < 0.1 or self.window_s <= 0:
            raise ConfigError(f"condition {self.name!r}: cooldown_s must be >= 0.1 and window_s > 0")

    def crossed(self, value: float) -> bool:
        return value < self.threshold if self.metric is Metric.WORKERS else value > self.threshold

    def describe(self) -> str:
        sign = "<" if self.metric is Metric.WORKERS else ">"
        window = f" in {self.window_s:g}s" if self.metric is Metric.FAILED else ""
        return (
            f"when {self.queue} {self.metric.value}{window} {sign} {self.threshold:g} (cooldown {self.cooldown_s:g}s)"
        )


Schedule = Timed | Condition


def to_json(schedule: Schedule) -> bytes:
    return dumps({"kind": schedule.kind, **asdict(schedule)})


def from_json(raw: bytes | str) -> Schedule:
    data = loads(raw)
    if not isinstance(data, dict):
        raise ConfigError("a stored schedule is not a JSON object")
    kind = data.pop("kind", None)
    if kind == "timed":
        return Timed(**data)
    if kind == "condition":
        return Condition(**data)
    raise ConfigError(f"unknown schedule kind {kind!r}")


def version_of(schedule: Schedule) -> str:
    """Changes whenever the schedule's definition does; a changed schedule starts over from its next tick."""
    return hashlib.sha1(to_json(schedule), usedforsecurity=False).hexdigest()[:16]


def _function_name(job: Named | str) -> str:
    return job if isinstance(job, str) else job.name


def cron(
    job: Named | str,
    expression: str,
    *,
    name: str | None = None,
    tz: str = "UTC",
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    queue: str | None = None,
    misfire: Misfire | str = Misfire.SKIP,
    catch_up_limit: int = 10,
    misfire_grace_s: float = 5.0,
) -> Timed:
    """A cron schedule for ``worker_settings(cron_jobs=[...])`` (named after the job unless ``name`` is given)."""
    function = _function_name(job)
    return Timed(
        name or function, function, cron=expression, tz=tz, args=args, kwargs=kwargs or {}, queue=queue,
        misfire=Misfire.parse(misfire), catch_up_limit=catch_up_limit, misfire_grace_s=misfire_grace_s,
    )  # fmt: skip


def every(
    job: Named | str,
    seconds: float,
    *,
    name: str | None = None,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    queue: str | None = None,
    misfire: Misfire | str = Misfire.SKIP,
    catch_up_limit: int = 10,
    misfire_grace_s: float = 5.0,
    anchor_ms: int = 0,
) -> Timed:
    """An interval schedule: every ``seconds``, on a grid from ``anchor_ms`` (epoch by default)."""
    function = _function_name(job)
    return Timed(
        name or function, function, every_s=seconds, args=args, kwargs=kwargs or {}, queue=queue,
        misfire=Misfire.parse(misfire), catch_up_limit=catch_up_limit, misfire_grace_s=misfire_grace_s,
        anchor_ms=anchor_ms,
    )  # fmt: skip


_ARQ_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def from_arq_cron(job: Any, tz: str = "UTC") -> Timed:
    """An ``arq.cron.cron(...)`` declaration as our exactly-once cron, so existing ``cron_jobs`` keep working
    without arq's own cron (which can run a tick twice across workers, python-arq/arq#196). arq counts weekdays
    from Monday = 0; cron from Sunday = 0. Read by attribute, so this module need not import arq."""

    def field_of(value: Any, weekday: bool = False) -> str:
        if value is None:
            return "*"
        values = value if isinstance(value, set | frozenset | list | tuple) else [value]
        if weekday:
            numbers = [_ARQ_WEEKDAYS.index(v.lower()) if isinstance(v, str) else int(v) for v in values]
            values = [(n + 1) % 7 for n in numbers]
        return ",".join(str(v) for v in sorted(values))

    second = "0" if job.second is None else field_of(job.second)
    fields = [second, field_of(job.minute), field_of(job.hour), field_of(job.day), field_of(job.month)]
    expression = " ".join([*fields, field_of(job.weekday, weekday=True)])
    function = getattr(job.coroutine, "name", None) or job.coroutine.__name__
    return Timed(str(function), str(function), cron=expression, tz=tz)
