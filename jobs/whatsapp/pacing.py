"""The pacing seam of blast sending: how fast one sender may go, and how often one recipient may be messaged.

``Pacer`` is the interface the send core talks to. Workers use ``shared_pacing.RedisPacer`` (the limits held in
Redis, across every worker process). ``LocalPacer`` paces the sends of *one process* only: for code that sends
without a worker's Redis (the benchmark, a script), never for several workers.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

# The Cloud API's "pair rate limit": about one message every 6 seconds to the same WhatsApp user.
RECIPIENT_INTERVAL_S = 6.0


class Pacer(Protocol):
    async def before_send(self, phone: str) -> None:
        """Wait until a message to ``phone`` may start (sender rate, per-recipient limit, throttle pause)."""

    async def throttled(self, retry_after_s: float, phone: str | None = None) -> None:
        """The API answered "too many": no send may start for ``retry_after_s`` seconds. The message to ``phone``
        was not taken, so it gives back that recipient's turn (its resend need not wait the pair interval)."""


class LocalPacer:
    """Sends evenly spaced at ``per_second`` (0 = unpaced), a recipient at most once per ``recipient_interval_s``."""

    def __init__(
        self,
        per_second: float,
        recipient_interval_s: float = RECIPIENT_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = 1.0 / per_second if per_second > 0 else 0.0
        self.recipient_interval_s = recipient_interval_s
        self._clock = clock
        self._next_start = 0.0
        self._paused_until = 0.0
        self._recipients: OrderedDict[str, float] = OrderedDict()  # phone → earliest next send, in time order
        self._lock = asyncio.Lock()

    async def before_send(self, phone: str) -> None:
        await self._wait_until(self._recipient_ready(phone))
        if self.interval_s or self._paused_until > self._clock():
            async with self._lock:  # held while sleeping, so waiters leave one by one, interval_s apart
                await self._wait_until(max(self._next_start, self._paused_until))
                self._next_start = max(self._clock(), self._next_start) + self.interval_s

    async def throttled(self, retry_after_s: float, phone: str | None = None) -> None:
        self._paused_until = max(self._paused_until, self._clock() + retry_after_s)
        if phone is not None:
            self._recipients.pop(phone, None)

    def _recipient_ready(self, phone: str) -> float:
        """When ``phone`` may be messaged, reserving that moment for it."""
        if not self.recipient_interval_s:
            return 0.0
        now = self._clock()
        while self._recipients and next(iter(self._recipients.values())) <= now:  # forget the expired, oldest first
            self._recipients.popitem(last=False)
        ready = max(self._recipients.pop(phone, now), now)
        self._recipients[phone] = ready + self.recipient_interval_s
        return ready

    async def _wait_until(self, moment: float) -> None:
        delay = moment - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
