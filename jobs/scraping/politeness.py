"""Per-host (or per-endpoint) politeness: concurrency in this process, rate and pauses for every process.

Each key (a host name for scraping, an endpoint for webhooks) gets a gate that lets at most ``concurrency``
requests of this worker process be in flight, and starts them no faster than ``rate_per_s`` (slowed further by a
robots.txt Crawl-delay), pausing them when the server said so (Retry-After on a 429). Every job of the worker
shares the gates, so ten product jobs against one host obey the host's limit together, not ten times over.

The rate and the pauses are shared by every worker process when the limiter is given the framework's
``SharedRateLimiter`` (Redis; a worker's runtime always does): whatever the number of processes, no window holds
more starts than the rate allows (``Rate.per_second``: 2/s is at most 2 in any 1 s, 0.5/s 1 in any 2 s), and a
429 seen by one process pauses the host for all of them. A wait longer than ``max_wait_s`` (a long pause) raises
``Throttled`` instead of holding a job asleep: the job is postponed without using a try. A key without a rate
(``rate_per_s`` 0) needs Redis only to learn of pauses: it asks at most every ``PAUSE_RECHECK_S`` instead of once
per request, so an unlimited host costs no Redis call per page, and another process's pause reaches it within
that time (this process's own at once). Without Redis (a script, a unit test) the gates fall back to spacing
starts within the process. Concurrency stays per process: a slot held by a process that died would otherwise
need leases, and the rate is what a site measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from queue_system import Rate, SharedRateLimiter
from queue_system import Throttled as SharedThrottled

from .errors import Throttled
from .settings import HostLimit

# The longest a request waits in-line for its host's turn before its job is postponed instead.
MAX_INLINE_WAIT_S = 5.0
# How often a key without a rate looks up the shared pause another process may have set.
PAUSE_RECHECK_S = 0.5


@dataclass
class _Gate:
    semaphore: asyncio.Semaphore
    interval_s: float
    lock: asyncio.Lock
    next_start: float = 0.0
    paused_until: float = 0.0
    pause_checked_at: float = float("-inf")  # when the shared pause was last read (keys without a rate)

    async def wait_turn(self) -> None:
        if not self.interval_s and self.paused_until <= time.monotonic():
            return  # the unlimited case stays free of locks and sleeps
        async with self.lock:  # held while sleeping, so waiters leave one by one, interval_s apart
            while True:
                now = time.monotonic()
                start = max(now, self.next_start, self.paused_until)
                if start <= now:
                    break
                await asyncio.sleep(start - now)
            self.next_start = now + self.interval_s

    @property
    def rate_per_s(self) -> float:
        return 1.0 / self.interval_s if self.interval_s else 0.0


class KeyedLimiter:
    """One gate per key, created on first use from ``limit_for(key)``; ``shared`` makes rates and pauses hold
    across processes under the scopes ``<namespace>:<key>``."""

    def __init__(
        self,
        limit_for: Callable[[str], HostLimit],
        *,
        shared: SharedRateLimiter | None = None,
        namespace: str = "host",
        max_wait_s: float = MAX_INLINE_WAIT_S,
    ) -> None:
        self._limit_for = limit_for
        self._gates: dict[str, _Gate] = {}
        self.shared = shared
        self.namespace = namespace
        self.max_wait_s = max_wait_s

    def _gate(self, key: str) -> _Gate:
        gate = self._gates.get(key)
        if gate is None:
            limit = self._limit_for(key)
            interval = 1.0 / limit.rate_per_s if limit.rate_per_s > 0 else 0.0
            gate = self._gates[key] = _Gate(asyncio.Semaphore(limit.concurrency), interval, asyncio.Lock())
        return gate

    def scope(self, key: str) -> str:
        return f"{self.namespace}:{key}"

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """Hold one of the key's concurrent slots, entered no sooner than the key's rate and pauses allow.

        Raises ``Throttled`` when the shared limiter would make it wait longer than ``max_wait_s``."""
        gate = self._gate(key)
        async with gate.semaphore:
            if self.shared is None:
                await gate.wait_turn()
            elif gate.interval_s:
                rate = Rate.per_second(self.scope(key), gate.rate_per_s)
                try:
                    await self.shared.acquire_all([rate], max_wait_s=self.max_wait_s)
                except SharedThrottled as exc:
                    raise Throttled(key, exc.retry_after) from exc
            else:
                await self._sit_out_pause(key, gate, self.shared)
            yield

    async def _sit_out_pause(self, key: str, gate: _Gate, shared: SharedRateLimiter) -> None:
        """No rate: only a pause (ours, or another process's as of at most PAUSE_RECHECK_S ago) holds a start."""
        now = time.monotonic()
        if now - gate.pause_checked_at >= PAUSE_RECHECK_S:
            gate.pause_checked_at = now  # before the await: concurrent requests do not all ask
            gate.paused_until = max(gate.paused_until, now + await shared.paused_for(self.scope(key)))
        wait = gate.paused_until - time.monotonic()
        if wait > self.max_wait_s:
            raise Throttled(key, wait)
        if wait > 0:
            await asyncio.sleep(wait)

    async def pause(self, key: str, seconds: float) -> None:
        """No new request to ``key`` starts for ``seconds`` (what a 429's Retry-After asks), in every process
        when shared."""
        gate = self._gate(key)
        if self.shared is not None:
            seconds = await self.shared.pause(self.scope(key), seconds)  # the pause now in force, maybe longer
        gate.paused_until = max(gate.paused_until, time.monotonic() + seconds)

    def slow_to(self, key: str, interval_s: float) -> None:
        """Space requests to ``key`` at least ``interval_s`` apart (robots.txt Crawl-delay); never speeds up."""
        gate = self._gate(key)
        gate.interval_s = max(gate.interval_s, interval_s)
