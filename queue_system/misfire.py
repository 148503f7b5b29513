"""Which ticks of a timed schedule to run now: the misfire policy, as a pure function of the clock.

A tick is *on time* when it passed at most ``misfire_grace_s`` ago: it runs whatever the policy (a worker busy or
paused for a moment is not an outage). Older ticks were *missed* (no worker ran, or all were stopped) and the
policy decides: ``skip`` drops them, ``run_once`` runs one catch-up run (the latest missed tick stands for all),
``catch_up`` runs each of the latest ``catch_up_limit``. Missed ticks are found by walking back from now, so a
week-long outage of a one-second cron costs ``catch_up_limit`` steps, not 600 000.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schedule_types import Misfire, Timed


@dataclass(frozen=True)
class Plan:
    fire: list[int]  # ticks to enqueue now, oldest first
    next_ms: int  # the schedule's next tick after this claim
    missed: bool  # some ticks were missed (older than the grace)


def plan(schedule: Timed, next_ms: int, now_ms: int) -> Plan:
    """The ticks due from ``next_ms`` (the first not yet claimed) up to ``now_ms``."""
    trigger = schedule.trigger()
    new_next = trigger.next_after(now_ms)
    if next_ms > now_ms:
        return Plan([], next_ms, False)
    grace_start = now_ms - int(schedule.misfire_grace_s * 1000)
    on_time: list[int] = []
    tick = max(next_ms, grace_start)
    if tick != next_ms:
        tick = trigger.next_after(tick - 1)
    while tick <= now_ms:
        on_time.append(tick)
        tick = trigger.next_after(tick)
    if next_ms >= grace_start:
        return Plan(on_time, new_next, False)
    missed = _missed(schedule, next_ms, grace_start)
    return Plan([*missed, *on_time], new_next, True)


def _missed(schedule: Timed, next_ms: int, grace_start: int) -> list[int]:
    """The missed ticks the policy runs: those in [next_ms, grace_start), newest ones first found."""
    if schedule.misfire is Misfire.SKIP:
        return []
    keep = 1 if schedule.misfire is Misfire.RUN_ONCE else schedule.catch_up_limit
    trigger = schedule.trigger()
    found: list[int] = []
    tick = trigger.prev_before(grace_start)
    while tick >= next_ms and len(found) < keep:
        found.append(tick)
        tick = trigger.prev_before(tick)
    return sorted(found)
