"""The scheduler every worker runs: fire due schedules, each tick exactly once across all workers.

There is no leader. Each worker's scheduler sleeps until the next due tick, or until a schedule is written or
removed (``schedule_store`` publishes each change; the scheduler listens, so a schedule added at run time is seen at
once without polling), reads every schedule, and for each due one tries to claim it
(lua/schedule_claim.lua): the claim compares the next tick the worker read and moves it on, so exactly one worker
wins each tick, and a worker that was paused (SIGSTOP) or slow finds the tick taken. The winner enqueues the
tick's job under the id ``sched:<name>:<tick ms>`` and confirms it (schedule_settle.lua); should it die in between,
another worker enqueues the pending tick a few seconds later under the same id, which enqueue deduplicates.

Timed schedules apply their misfire policy (misfire.py) to ticks missed while no worker ran. Condition schedules
read their metric (conditions.py) every ``poll_s`` and, when it crosses the threshold, claim a firing that also
pushes their next possible firing to the end of the cooldown. The clock is injectable, so tests replay an outage
without sleeping. With no condition schedule and nothing due, an idle scheduler reads Redis once every ``idle_s``
(a safety net should a change message be lost), which keeps an idle worker's Redis load small.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from .client import Client, JobRequest
from .conditions import QueueReadings, WorkerPresence
from .connection import REDIS_DOWN_ERRORS, raise_if_cancelled
from .errors import ConfigError, EnqueueError
from .logging_setup import get_logger
from .misfire import plan
from .pubsub import listen_forever
from .recovery import RecoveryHook, run_recovery_hooks
from .schedule_store import ScheduleState, ScheduleStore
from .schedule_types import Condition, Schedule, Timed
from .types import JobContext

log = get_logger("queue_system.scheduler")
PENDING_RETRY_MS = 3000  # a claimed tick not confirmed within this is enqueued again by another worker
CTX_SCHEDULER_TASK = "qs_scheduler_task"
IDLE_S = 10.0  # longest sleep of a scheduler with nothing due (change messages wake it sooner)
Clock = Callable[[], float]


def schedule_job_id(name: str, tick_ms: int) -> str:
    return f"sched:{name}:{tick_ms}"


class Scheduler:
    def __init__(
        self,
        client: Client,
        *,
        clock: Clock = time.time,
        presence: WorkerPresence | None = None,
        poll_s: float = 0.5,
        idle_s: float = IDLE_S,
    ) -> None:
        self.client = client
        self.store = ScheduleStore(client.redis, client.keys)
        self.readings = QueueReadings(client.redis, client.keys, presence)
        self.clock = clock
        self.poll_s = poll_s  # how often condition schedules read their metric
        self.idle_s = idle_s
        self._changed = asyncio.Event()

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def declare(self, schedules: Sequence[Schedule]) -> None:
        """Store the schedules declared in code; unchanged ones keep their clocks (and what they missed)."""
        for schedule in schedules:
            if await self.store.put(schedule, self.now_ms()):
                log.info("schedule.declared", schedule=schedule.name, when=schedule.describe())

    async def run_forever(self) -> None:
        watcher = asyncio.create_task(
            listen_forever(self.client.redis, self.client.keys.schedules_changed, self._on_change, self._on_subscribed)
        )
        try:
            while True:
                self._changed.clear()  # a change from now on means: read again
                try:
                    next_look = await self.run_once()
                except REDIS_DOWN_ERRORS as exc:
                    raise_if_cancelled()
                    log.warning("scheduler.redis_unavailable", error=str(exc))
                    next_look = self.now_ms() + int(self.poll_s * 1000)
                except Exception:  # a bug or a bad stored record must not stop scheduling for good
                    log.exception("scheduler.error")
                    next_look = self.now_ms() + int(self.poll_s * 1000)
                raise_if_cancelled()
                await self._sleep_until(next_look)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    def _on_change(self, _name: str) -> None:
        self._changed.set()

    async def _on_subscribed(self) -> None:
        self._changed.set()  # changes made while the subscription was down: read everything again

    async def _sleep_until(self, at_ms: int | None) -> None:
        wait = self.idle_s if at_ms is None else min(self.idle_s, (at_ms - self.now_ms()) / 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), max(wait, 0.005))

    async def run_once(self) -> int | None:
        """Fire whatever is due now; returns when to look again (ms): the earliest next tick of a timed schedule,
        the next metric reading of a condition schedule, or the retry of a stale pending tick."""
        now = self.now_ms()
        looks: list[int] = []
        for state in await self.store.all():
            await self._enqueue_stale_pending(state, now)
            looks.extend(c + PENDING_RETRY_MS for c in state.pending.values() if c + PENDING_RETRY_MS > now)
            next_ms = state.next_ms
            if next_ms is not None and next_ms <= now:
                if isinstance(state.schedule, Timed):
                    next_ms = await self._fire_timed(state, state.schedule, now)
                else:
                    next_ms = await self._fire_condition(state, state.schedule, now)
            if isinstance(state.schedule, Condition):
                next_ms = max(next_ms or now, now + int(self.poll_s * 1000))
            if next_ms is not None and next_ms > now:
                looks.append(next_ms)
        return min(looks, default=None)

    async def _fire_timed(self, state: ScheduleState, schedule: Timed, now: int) -> int:
        """Claim and enqueue the due ticks (if no other worker was first); returns the next tick."""
        assert state.next_ms is not None
        due = plan(schedule, state.next_ms, now)
        if not await self.store.claim(state, due.next_ms, now, due.fire):
            return due.next_ms
        if due.missed:
            log.info(
                "schedule.misfire", schedule=schedule.name, policy=schedule.misfire.value, missed_from=state.next_ms,
                running=len(due.fire),
            )  # fmt: skip
        await self._enqueue(schedule, due.fire, None)
        return due.next_ms

    async def _fire_condition(self, state: ScheduleState, condition: Condition, now: int) -> int | None:
        """Fire if the metric crossed the threshold and the cooldown is over; returns the cooldown's end."""
        value = await self.readings.read(condition, now)
        if value is None or not condition.crossed(value):
            return None
        cooldown_end = now + int(condition.cooldown_s * 1000)
        if not await self.store.claim(state, cooldown_end, now, [now]):
            return None
        log.info("schedule.condition_fired", schedule=condition.name, metric=condition.metric.value, value=value)
        await self._enqueue(condition, [now], value)
        return cooldown_end

    async def _enqueue(self, schedule: Schedule, ticks: list[int], value: float | None) -> None:
        requests = [self._request(schedule, tick, value) for tick in ticks]
        try:
            jobs = await self.client.enqueue_many(requests)
        except EnqueueError as exc:  # a definition that cannot be enqueued: say so, do not retry it every tick
            log.error("schedule.enqueue_refused", schedule=schedule.name, function=schedule.function, error=str(exc))
        else:
            for job in jobs:
                log.info("schedule.enqueued", schedule=schedule.name, job_id=job.job_id, duplicate=job.duplicate)
        await self.store.settle(schedule.name, ticks)

    def _request(self, schedule: Schedule, tick: int, value: float | None) -> JobRequest:
        kwargs: dict[str, Any] = dict(schedule.kwargs)
        queue = schedule.queue if isinstance(schedule, Timed) else schedule.target_queue
        if isinstance(schedule, Condition) and schedule.reading_kwarg:
            kwargs[schedule.reading_kwarg] = {
                **kwargs.get(schedule.reading_kwarg, {}),
                **reading(schedule, tick, value),
            }
        return JobRequest(
            schedule.function, schedule.args, kwargs, queue=queue, job_id=schedule_job_id(schedule.name, tick),
            tags={"schedule": schedule.name},
        )  # fmt: skip

    async def _enqueue_stale_pending(self, state: ScheduleState, now: int) -> None:
        """Ticks another worker claimed but never confirmed (it died or stalled): enqueue them under their ids."""
        stale = [tick for tick, claimed in state.pending.items() if now - claimed >= PENDING_RETRY_MS]
        if stale:
            log.warning("schedule.pending_recovered", schedule=state.name, ticks=stale)
            await self._enqueue(state.schedule, sorted(stale), None)


def _number(value: float | None) -> str:
    return "unknown" if value is None else f"{value:g}"


def reading(condition: Condition, at_ms: int, value: float | None) -> dict[str, Any]:
    """What a condition hands its job: enough for an alert email or webhook to say what happened."""
    return {
        "rule": condition.name,
        "queue": condition.queue,
        "metric": condition.metric.value,
        "value": int(value) if value is not None and value.is_integer() else value,
        "threshold": int(condition.threshold) if condition.threshold.is_integer() else condition.threshold,
        "window_s": condition.window_s,
        "at_ms": at_ms,
        "summary": f"{condition.queue}: {condition.metric.value} is {_number(value)} ({condition.describe()})",
    }


class WorkerScheduling:
    """What each worker runs for scheduling: its recovery hooks at start-up (one worker of a fleet runs each),
    then the scheduler until shutdown. Works the same under ``queue-system worker`` and the stock arq worker."""

    def __init__(
        self,
        schedules: Sequence[Schedule] = (),
        recovery: Sequence[RecoveryHook] = (),
        *,
        presence: WorkerPresence | None = None,
        poll_s: float = 0.5,
    ) -> None:
        names = [s.name for s in schedules]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"two schedules are named {duplicates}")
        self.schedules = list(schedules)
        self.recovery = list(recovery)
        self.presence = presence
        self.poll_s = poll_s

    async def start(self, ctx: JobContext, client: Client) -> None:
        await run_recovery_hooks(client.redis, client.keys, self.recovery, ctx)
        scheduler = Scheduler(client, presence=self.presence, poll_s=self.poll_s)
        await scheduler.declare(self.schedules)
        # kept in the worker's ctx, not here: several workers of one settings class (one process, tests) each stop
        # their own scheduler
        ctx[CTX_SCHEDULER_TASK] = asyncio.create_task(scheduler.run_forever())

    async def stop(self, ctx: JobContext) -> None:
        task = ctx.pop(CTX_SCHEDULER_TASK, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
