"""Start-up recovery hooks: reconcile the application's own store with the queue, once per fleet start.

The application's database is the source of truth for what should run (a blast due at 09:00); Redis carries the
work. After an outage, or after Redis lost its data, a hook finds what was due and never ran and enqueues it:

    async def resend_missed_blasts(ctx: JobContext) -> None:
        for blast in await overdue_blasts(ctx):            # the app's own query
            await send_blast.options(job_id=f"blast:{blast.id}").enqueue(blast.id)

    worker_settings(..., recovery=[RecoveryHook("missed-blasts", resend_missed_blasts)])

Several workers usually start together (a deploy, a host reboot); the hook runs in exactly one of them: the first
to set ``{prefix}:recovery:<name>`` (SET NX with a ``window_s`` expiry) runs it, the others skip it, and a worker
starting after the window runs it again (a later restart is a new chance to recover). A hook that fails releases
the key, so the next worker to start tries again, and the worker carries on: recovery must not stop the fleet.
Hooks should enqueue under deterministic job ids, so a second run (a later start) finds the jobs already there.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .keys import Keys
from .logging_setup import get_logger
from .types import JobContext

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger("queue_system.recovery")
HookFunction = Callable[[JobContext], Awaitable[Any]]


@dataclass(frozen=True)
class RecoveryHook:
    """A hook run at worker start-up by one worker of those starting within ``window_s`` of each other."""

    name: str
    function: HookFunction
    window_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name):
            raise ConfigError(f"invalid recovery hook name {self.name!r}")
        if self.window_s <= 0:
            raise ConfigError("a recovery hook's window_s must be > 0")


async def run_recovery_hooks(redis: Redis, keys: Keys, hooks: Sequence[RecoveryHook], ctx: JobContext) -> list[str]:
    """Run each hook this worker is first to claim; returns the names it ran."""
    ran = []
    owner = f"{socket.gethostname()}:{os.getpid()}"
    for hook in hooks:
        key = keys.recovery(hook.name)
        if not await redis.set(key, owner, nx=True, px=int(hook.window_s * 1000)):
            log.info("recovery.skipped", hook=hook.name, reason="another worker runs it")
            continue
        log.info("recovery.started", hook=hook.name)
        try:
            result = await hook.function(ctx)
        except Exception as exc:
            await redis.delete(key)
            log.exception("recovery.failed", hook=hook.name, error=f"{type(exc).__name__}: {exc}")
            continue
        log.info("recovery.finished", hook=hook.name, result=result if isinstance(result, int | str) else None)
        ran.append(hook.name)
    return ran
