"""Per-host (or per-endpoint) politeness: concurrency in this process, rate and pauses for every process.

Each key (a host name for scraping, an endpoint for webhooks) gets a gate that lets at most ``concurrency``
requests of this worker process be in flight, and starts them no faster than ``rate_per_s`` (slowed further by a
robots.txt Crawl-delay), pausing them when the server said so (Retry-After on a 429). Every job of the worker
shares the gates, so ten product jobs against one host obey the host's limit together, not ten times over.

The rate and the pauses are shared by every worker process when the limiter is given the framework's
``SharedRateLimiter`` (Redis; a worker's runtime always does): no window of ``1 / rate`` seconds ever holds more
starts than the rate allows, whatever the number of processes, and a 429 seen by one process pauses the host for
all of them. A wait longer than ``max_wait_s`` (a long pause) raises ``Throttled`` instead of holding a job
asleep: the job is postponed without using a try. Without Redis (a script, a unit test) the gates fall back to
spacing starts within the process. Concurrency stays per process: a slot held by a process that died would
otherwise need leases, and the rate is what a site measures.
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


@dataclass
class _Gate:
    semaphore: asyncio.Semaphore
    interval_s: float
    lock: asyncio.Lock
    next_start: float = 0.0
    paused_until: float = 0.0

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
            else:
                rate = Rate.per_second(self.scope(key), gate.rate_per_s)
                try:
                    await self.shared.acquire_all([rate], max_wait_s=self.max_wait_s)
                except SharedThrottled as exc:
                    raise Throttled(key, exc.retry_after) from exc
            yield

    async def pause(self, key: str, seconds: float) -> None:
        """No new request to ``key`` starts for ``seconds`` (what a 429's Retry-After asks), in every process
        when shared."""
        if self.shared is not None:
            await self.shared.pause(self.scope(key), seconds)
            return
        gate = self._gate(key)
        gate.paused_until = max(gate.paused_until, time.monotonic() + seconds)

    def slow_to(self, key: str, interval_s: float) -> None:
        """Space requests to ``key`` at least ``interval_s`` apart (robots.txt Crawl-delay); never speeds up."""
        gate = self._gate(key)
        gate.interval_s = max(gate.interval_s, interval_s)
