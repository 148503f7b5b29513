"""Login rate limit: at most N failed attempts per user name and per client address within a sliding window.

Kept in the serving process (a login burst hits one process; several processes each allow N). The clock is
injected so tests need not wait out a window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        cutoff = self.clock() - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until another attempt is allowed (0: allowed now)."""
        waits = [
            times[0] + self.window_s - self.clock()
            for times in (self._recent(f"u:{user}"), self._recent(f"a:{address}"))
            if len(times) >= self.attempts
        ]
        return max(waits, default=0.0)

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        for key in (f"u:{user}", f"a:{address}"):
            self._recent(key).append(now)
        if len(self._failures) > 100_000:  # a flood of made-up names must not grow memory without end
            self._failures = {k: v for k, v in self._failures.items() if v}

    def succeeded(self, user: str) -> None:
        self._failures.pop(f"u:{user}", None)
