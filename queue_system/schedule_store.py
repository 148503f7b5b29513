"""The schedules in Redis: definitions, their clocks, and the atomic claim that makes each tick fire once.

Definitions live in one hash (``{prefix}:schedules``), each schedule's clock in its own (``{prefix}:schedule:
{name}``: version, next tick, last fired, times fired) with the claimed-but-not-yet-enqueued ticks beside it
(``…:pending``). Every write is one Lua script (lua/schedule_*.lua), so workers, the API and the CLI can change
schedules while others claim ticks. Reading every schedule is two round trips whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .errors import ConfigError, ScheduleNotFound
from .keys import Keys
from .logging_setup import get_logger
from .schedule_types import Condition, Schedule, Timed, from_json, to_json, version_of
from .scripts import ScriptArgs, script_source

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger("queue_system.schedules")


@dataclass(frozen=True)
class ScheduleState:
    """A schedule with its clock as stored: what the scheduler and the read API work from."""

    schedule: Schedule
    version: str
    next_ms: int | None
    last_ms: int | None
    fired: int
    pending: dict[int, int] = field(default_factory=dict)  # tick -> when it was claimed (ms)

    @property
    def name(self) -> str:
        return self.schedule.name

    def next_runs(self, count: int) -> list[int]:
        """The next ``count`` ticks of a timed schedule (from its stored next tick); a condition's earliest
        possible firing (the end of its cooldown)."""
        if self.next_ms is None:
            return []
        if isinstance(self.schedule, Condition):
            return [self.next_ms]
        trigger = self.schedule.trigger()
        runs = [self.next_ms]
        while len(runs) < count:
            runs.append(trigger.next_after(runs[-1]))
        return runs

    def to_dict(self, next_count: int = 5) -> dict[str, Any]:
        schedule = self.schedule
        data: dict[str, Any] = {
            "name": schedule.name,
            "kind": schedule.kind,
            "when": schedule.describe(),
            "function": schedule.function,
            "args": list(schedule.args),
            "kwargs": dict(schedule.kwargs),
            "origin": schedule.origin,
            "next_runs_ms": self.next_runs(next_count),
            "last_fired_ms": self.last_ms,
            "fired": self.fired,
            "pending": sorted(self.pending),
        }
        if isinstance(schedule, Timed):
            data["misfire"] = schedule.misfire.value
        return data


class ScheduleStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._upsert = redis.register_script(script_source("schedule_upsert"))
        self._claim = redis.register_script(script_source("schedule_claim"))
        self._settle = redis.register_script(script_source("schedule_settle"))

    async def put(self, schedule: Schedule, now_ms: int, *, only_create: bool = False) -> bool:
        """Store ``schedule``; an unchanged definition keeps its clock. True if something was written."""
        first = schedule.trigger().next_after(now_ms) if isinstance(schedule, Timed) else now_ms
        args: ScriptArgs = [
            self.keys.prefix, schedule.name, to_json(schedule), version_of(schedule), first, int(only_create),
        ]  # fmt: skip
        return bool(await self._upsert(keys=[], args=args, client=self.redis))

    async def remove(self, name: str) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.keys.schedules, name)
            pipe.delete(self.keys.schedule(name), self.keys.schedule(name) + ":pending")
            pipe.publish(self.keys.schedules_changed, name)
            removed, _, _ = await pipe.execute()
        return bool(removed)

    async def all(self) -> list[ScheduleState]:
        raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.schedules)  # type: ignore[misc]
        names = sorted(raw)
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self.keys.schedule(name.decode()))
                pipe.hgetall(self.keys.schedule(name.decode()) + ":pending")
            answers = await pipe.execute()
        states = []
        for i, name in enumerate(names):
            state = _state(name.decode(), raw[name], answers[2 * i], answers[2 * i + 1])
            if state is not None:
                states.append(state)
        return states

    async def get(self, name: str) -> ScheduleState:
        for state in await self.all():
            if state.name == name:
                return state
        raise ScheduleNotFound(f"no schedule named {name!r}")

    async def claim(self, state: ScheduleState, new_next_ms: int, now_ms: int, ticks: list[int]) -> bool:
        """Move ``state``'s next tick to ``new_next_ms`` and record ``ticks`` as pending, if nobody was first."""
        args: ScriptArgs = [
            self.keys.prefix, state.name, str(state.next_ms), new_next_ms, now_ms,
            orjson.dumps([str(t) for t in ticks]), state.version, len(ticks),
        ]  # fmt: skip
        return bool(await self._claim(keys=[], args=args, client=self.redis))

    async def settle(self, name: str, ticks: list[int]) -> None:
        if ticks:
            await self._settle(keys=[], args=[self.keys.prefix, name, *ticks], client=self.redis)


def _state(
    name: str, definition: bytes, clock: dict[bytes, bytes], pending: dict[bytes, bytes]
) -> ScheduleState | None:
    try:
        schedule = from_json(definition)
    except (ConfigError, TypeError, ValueError) as exc:  # written by a newer or older version: leave it alone
        log.warning("schedule.unreadable", schedule=name, error=str(exc))
        return None
    return ScheduleState(
        schedule=schedule,
        version=clock.get(b"v", b"").decode(),
        next_ms=int(clock[b"next"]) if b"next" in clock else None,
        last_ms=int(clock[b"last"]) if b"last" in clock else None,
        fired=int(clock.get(b"fired", b"0")),
        pending={int(tick): int(at) for tick, at in pending.items()},
    )
