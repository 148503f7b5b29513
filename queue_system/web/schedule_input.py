"""A schedule as the HTTP API and the dashboard's form receive it, validated into a ``schedule_types`` schedule
before anything is written: a bad cron expression, time zone, queue, metric or name is a 400/422 with a message,
and a cron that never fires (``0 0 30 2 *``) is refused now rather than failing the scheduler later."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError
from ..schedule_types import Condition, Metric, Misfire, Schedule, Timed, cron, every

Name = Annotated[str, Field(min_length=1, max_length=100, description="letters, digits, '-', '_', '.', ':'")]
Function = Annotated[str, Field(min_length=1, max_length=200, description="the job's registered name")]
QueueName = Annotated[str | None, Field(default=None, max_length=100)]
Seconds = Annotated[float, Field(ge=0.1, le=10 * 365 * 86_400, allow_inf_nan=False)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is refused, not silently dropped

    name: Name
    function: Function
    args: list[Any] = Field(default_factory=list, max_length=100)
    kwargs: dict[str, Any] = Field(default_factory=dict, max_length=100)


class CronBody(_Body):
    kind: Literal["cron"]
    cron: str = Field(min_length=1, max_length=200, description="5 fields, or 6 with seconds first")
    tz: str = Field(default="UTC", min_length=1, max_length=64)
    queue: QueueName
    misfire: Misfire = Misfire.SKIP

    def build(self) -> Timed:
        return cron(
            self.function, self.cron, name=self.name, tz=self.tz, args=self.args, kwargs=self.kwargs,
            queue=self.queue, misfire=self.misfire,
        )  # fmt: skip


class IntervalBody(_Body):
    kind: Literal["interval"]
    every_s: Seconds
    queue: QueueName
    misfire: Misfire = Misfire.SKIP

    def build(self) -> Timed:
        return every(
            self.function, self.every_s, name=self.name, args=self.args, kwargs=self.kwargs, queue=self.queue,
            misfire=self.misfire,
        )  # fmt: skip


class ConditionBody(_Body):
    kind: Literal["condition"]
    queue: str = Field(min_length=1, max_length=100, description="the queue watched")
    metric: Metric
    threshold: float = Field(ge=-1e12, le=1e12, allow_inf_nan=False)
    window_s: Seconds = 300.0
    cooldown_s: Seconds = 300.0
    target_queue: QueueName
    reading_kwarg: str | None = Field(default=None, min_length=1, max_length=100)

    def build(self) -> Condition:
        return Condition(
            self.name, self.function, self.queue, self.metric, self.threshold, window_s=self.window_s,
            cooldown_s=self.cooldown_s, args=self.args, kwargs=self.kwargs, target_queue=self.target_queue,
            reading_kwarg=self.reading_kwarg,
        )  # fmt: skip


ScheduleBody = Annotated[CronBody | IntervalBody | ConditionBody, Field(discriminator="kind")]


def build(body: CronBody | IntervalBody | ConditionBody) -> Schedule:
    """The schedule, checked to fire at least once from now (ConfigError otherwise)."""
    schedule = body.build()
    if isinstance(schedule, Timed):
        try:
            schedule.trigger().next_after(int(time.time() * 1000))
        except (ValueError, KeyError, OverflowError) as exc:  # croniter's "no such date" errors are ValueErrors
            raise ConfigError(f"schedule {schedule.name!r} never fires: {exc}") from exc
    return schedule
