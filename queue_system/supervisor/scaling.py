"""The scaling rule, apart from processes and Redis so it can be read (and tested) on its own.

Up: while more than ``scale_up_threshold`` jobs wait per running process (or the oldest has waited longer than
``scale_up_wait_s``), jump straight to the number of processes that brings the backlog to the threshold (at least
one more, at most ``max_workers``): a burst reaches its capacity in one step, not one step per cooldown.
Down: once fewer than ``scale_down_threshold`` jobs wait and one process fewer could still hold the running jobs,
one process at a time, so a lull between bursts does not empty the group. Never twice within ``cooldown_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import GroupConfig


@dataclass(frozen=True)
class Load:
    waiting: int
    active: int
    oldest_waiting_s: float


@dataclass(frozen=True)
class Decision:
    target: int
    reason: str


def decide(group: GroupConfig, current: int, load: Load, *, since_last_scaling_s: float) -> Decision | None:
    """The new process count for ``group`` running ``current`` processes, or None to leave it."""
    if since_last_scaling_s < group.cooldown_s:
        return None
    per = group.scale_up_threshold
    too_old = group.scale_up_wait_s is not None and load.oldest_waiting_s > group.scale_up_wait_s
    if current < group.max_workers and (load.waiting > per * current or too_old):
        target = min(group.max_workers, max(current + 1, math.ceil(load.waiting / per)))
        reason = f"{load.waiting} waiting" + (f", oldest {load.oldest_waiting_s:.1f}s" if too_old else "")
        return Decision(target, reason)
    fits_fewer = load.active <= (current - 1) * group.concurrency
    if current > group.min_workers and load.waiting < group.scale_down_threshold and fits_fewer:
        return Decision(current - 1, f"{load.waiting} waiting, {load.active} active")
    return None
