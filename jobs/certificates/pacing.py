"""The send-rate seam: ``EMAIL_RATE_PER_MINUTE`` (0 = unlimited, the default, right for the local sink).

A real provider allows so many messages a minute (the seed's Laravel system used 60). The framework's shared,
Redis-backed queue rate limits do not exist yet; until they do, this paces the sends of one worker process, so
the limit holds exactly with one email worker and is N times the setting with N of them. When the framework
gains ``rate_limit=`` on a queue or job, the email job should declare it there and this pacer should go.
"""

from __future__ import annotations

import asyncio
import time


class SendPacer:
    """Lets at most ``per_minute`` sends start per minute in this process, evenly spaced."""

    def __init__(self, per_minute: float) -> None:
        self.interval_s = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next_start = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval_s:
            return
        async with self._lock:  # held while sleeping, so waiters leave one by one, interval_s apart
            now = time.monotonic()
            if self._next_start > now:
                await asyncio.sleep(self._next_start - now)
                now = time.monotonic()
            self._next_start = max(now, self._next_start) + self.interval_s
