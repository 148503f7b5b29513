"""Login rate limit: at most N failed attempts per user name and per client address within a sliding window,
shared by every process serving the dashboard.

The count lives in Redis (``queue_system.throttle.SharedRateLimiter``: a sliding log per scope, Redis's clock,
one atomic script per attempt), so a guessing burst spread over several API processes or hosts gets no more tries
than one process would allow. Each attempt takes its place in both logs *before* the password is checked, so
concurrent guesses cannot overshoot; a right password takes it back out (a success is not a failure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import Throttled
from ..throttle import Grant, Rate, SharedRateLimiter

if TYPE_CHECKING:
    from ..api import QueueAPI

SCOPE = "login"


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float) -> None:
        self.attempts = attempts
        self.window_s = window_s
        self._shared: SharedRateLimiter | None = None

    def rates(self, user: str, address: str) -> list[Rate]:
        return [
            Rate(f"{SCOPE}:u:{user}", self.attempts, self.window_s),
            Rate(f"{SCOPE}:a:{address}", self.attempts, self.window_s),
        ]

    async def attempt(self, api: QueueAPI, user: str, address: str) -> Grant | float:
        """Count one attempt of ``user`` from ``address``: its grant, or the seconds until one is allowed."""
        try:
            return await self._limiter(api).acquire_all(self.rates(user, address), max_wait_s=0)
        except Throttled as refused:
            return refused.retry_after

    async def succeeded(self, api: QueueAPI, grant: Grant, user: str, address: str) -> None:
        """The password was right: the attempt leaves both logs, so only failures count."""
        for rate in self.rates(user, address):
            await self._limiter(api).release(grant, rate.scope)

    def _limiter(self, api: QueueAPI) -> SharedRateLimiter:
        if self._shared is None:
            self._shared = SharedRateLimiter(api.redis, api.keys.prefix, scripts=api.scripts)
        return self._shared
