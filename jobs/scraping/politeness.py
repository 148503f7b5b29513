"""Per-host (or per-endpoint) politeness inside one worker process: concurrency, spacing and pauses.

Each key (a host name for scraping, an endpoint for webhooks) gets a gate that lets at most ``concurrency``
requests be in flight, starts them at least ``1 / rate_per_s`` apart, and can be paused until a time the server
named (Retry-After on a 429) or slowed to a robots.txt Crawl-delay. Every job of the worker shares the gates, so
ten product jobs against one host obey the host's limit together, not ten times over.

This is in-process only: N worker processes allow N times the rate. The framework's shared, Redis-backed rate
limits (issue 5) do not exist yet; when they do, the host limit belongs there and this becomes its local cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from .settings import HostLimit


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


class KeyedLimiter:
    """One gate per key, created on first use from ``limit_for(key)``."""

    def __init__(self, limit_for: Callable[[str], HostLimit]) -> None:
        self._limit_for = limit_for
        self._gates: dict[str, _Gate] = {}

    def _gate(self, key: str) -> _Gate:
        gate = self._gates.get(key)
        if gate is None:
            limit = self._limit_for(key)
            interval = 1.0 / limit.rate_per_s if limit.rate_per_s > 0 else 0.0
            gate = self._gates[key] = _Gate(asyncio.Semaphore(limit.concurrency), interval, asyncio.Lock())
        return gate

    @contextlib.asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        """Hold one of the key's concurrent slots, entered no sooner than the key's spacing allows."""
        gate = self._gate(key)
        async with gate.semaphore:
            await gate.wait_turn()
            yield

    def pause(self, key: str, seconds: float) -> None:
        """No new request to ``key`` starts for ``seconds`` (what a 429's Retry-After asks)."""
        gate = self._gate(key)
        gate.paused_until = max(gate.paused_until, time.monotonic() + seconds)

    def slow_to(self, key: str, interval_s: float) -> None:
        """Space requests to ``key`` at least ``interval_s`` apart (robots.txt Crawl-delay); never speeds up."""
        gate = self._gate(key)
        gate.interval_s = max(gate.interval_s, interval_s)
