"""A shared rate limiter for anything that is not a job start: requests to a host, webhooks to an endpoint,
messages through an API. Held in Redis, so a limit holds across every worker process of every host.

    limiter = SharedRateLimiter(redis, prefix="qs")
    await limiter.acquire("scrape:shopee.co.id", limit=2, window_s=1)   # waits until a start is allowed
    wait_s = await limiter.try_acquire("webhook:https://x.test/hook", 10, 1)   # 0.0: taken; else how long
    await limiter.pause("scrape:shopee.co.id", 30)                      # a 429 said Retry-After: 30

Why not the job rate limits (limits.py): they admit job *starts*, and one job may make thousands of requests
(a batch scrape, a WhatsApp blast). Why the same algorithm: the framework's sliding log
(``lua/include/limits.lua`` ``rate_wait``, Redis's own clock, one atomic script call per try) guarantees that no
window of ``window_s`` ever holds more than ``limit`` starts, across processes, which a per-process gate or a
token bucket does not. ``acquire_all`` takes several scopes at once (a sender's rate *and* a recipient's
interval): the start is recorded in every scope or in none. A pause (``pause``) stops every start under the
scope for every process until it ends; pauses only ever get longer.

Keys: the log ``{prefix}:rate:t:<scope>``, the pause ``{prefix}:throttle-pause:t:<scope>`` (keys.py). Both expire
on their own. The Lua is ``lua/throttle.lua`` and ``lua/throttle_pause.lua``.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, Throttled
from .keys import Keys
from .limits import bounded_key
from .scripts import Scripts

if TYPE_CHECKING:
    from redis.asyncio import Redis

SCOPE_FAMILY = "t:"  # keeps these scopes apart from the job limits' q:/f:/k: scopes in the same key space


@dataclass(frozen=True)
class Rate:
    """At most ``limit`` starts under ``scope`` in any window of ``window_s`` seconds; ``limit`` 0 = no rate, only
    the scope's pauses apply."""

    scope: str
    limit: int
    window_s: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise ConfigError(f"Rate.limit must be an integer >= 0, not {self.limit!r}")
        if not isinstance(self.window_s, int | float) or self.window_s <= 0:
            raise ConfigError(f"Rate.window_s must be > 0 seconds, not {self.window_s!r}")
        if not self.scope:
            raise ConfigError("Rate.scope must not be empty")

    @classmethod
    def per_second(cls, scope: str, rate: float) -> Rate:
        """``rate`` starts a second as a window: 0.5/s is 1 per 2 s; 2.5/s is 2 per 0.8 s; 0 is unlimited."""
        if rate <= 0:
            return cls(scope, 0)
        if rate < 1:
            return cls(scope, 1, 1 / rate)
        limit = max(1, round(rate))
        return cls(scope, limit, limit / rate)

    @property
    def window_ms(self) -> int:
        return max(1, round(self.window_s * 1000))


@dataclass(frozen=True)
class Grant:
    """An admitted start: the Redis time (ms) it was counted at, and its entry in the scopes' logs."""

    at_ms: int
    member: str


class SharedRateLimiter:
    """Sliding-log rate limits and pauses per scope, shared through Redis. One instance per process is enough:
    all the state is in Redis; the instance only names its log entries (a random token and a counter)."""

    def __init__(self, redis: Redis, prefix: str = "qs", *, scripts: Scripts | None = None) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        scripts = scripts or Scripts(redis)
        self._try = scripts.throttle
        self._pause = scripts.throttle_pause
        self._token = uuid.uuid4().hex[:12]
        self._ids = itertools.count()

    async def try_acquire(self, scope: str, limit: int, window_s: float = 1.0) -> float:
        """Take one start under ``scope`` now if the limit allows: 0.0 = taken, else seconds to wait (nothing
        was recorded)."""
        wait_ms, _ = await self._attempt([Rate(scope, limit, window_s)])
        return wait_ms / 1000

    async def try_acquire_all(self, rates: Sequence[Rate]) -> float:
        """``try_acquire`` under every rate at once: taken in all of them (0.0) or in none."""
        wait_ms, _ = await self._attempt(rates)
        return wait_ms / 1000

    async def acquire(self, scope: str, limit: int, window_s: float = 1.0, *, max_wait_s: float | None = None) -> Grant:
        """Wait until a start under ``scope`` is allowed and take it. With ``max_wait_s``, a longer wait raises
        ``Throttled`` (a ``SlowDown``: out of a job it postpones the job) instead of sleeping."""
        return await self.acquire_all([Rate(scope, limit, window_s)], max_wait_s=max_wait_s)

    async def acquire_all(self, rates: Sequence[Rate], *, max_wait_s: float | None = None) -> Grant:
        """``acquire`` under every rate at once: one start recorded in every scope's log."""
        while True:
            wait_ms, grant = await self._attempt(rates)
            if grant is not None:
                return grant
            wait_s = wait_ms / 1000
            if max_wait_s is not None and wait_s > max_wait_s:
                raise Throttled(", ".join(r.scope for r in rates), wait_s)
            await asyncio.sleep(wait_s)

    async def pause(self, scope: str, seconds: float) -> float:
        """No start under ``scope`` for ``seconds``, in any process; never shortens a longer pause. Returns the
        pause now in force (s)."""
        ms = max(1, round(seconds * 1000))
        left = await self._pause(keys=[], args=[self.keys.prefix, self._scope(scope), ms], client=self.redis)
        return int(left) / 1000

    async def paused_for(self, scope: str) -> float:
        """Seconds left of ``scope``'s pause (0.0: not paused)."""
        left = await self.redis.pttl(self.keys.throttle_pause(self._scope(scope)))
        return max(0, int(left)) / 1000

    async def release(self, grant: Grant, scope: str) -> None:
        """Take a granted start back out of ``scope``'s log: it never happened (the remote refused it with a
        429, say), so it should not delay the next one."""
        await self.redis.zrem(self.keys.rate(self._scope(scope)), grant.member)

    async def _attempt(self, rates: Sequence[Rate]) -> tuple[int, Grant | None]:
        if not rates:
            raise ConfigError("acquire needs at least one Rate")
        member = f"{self._token}:{next(self._ids)}"
        args: list[Any] = [self.keys.prefix, member]
        for rate in rates:
            args += [self._scope(rate.scope), rate.limit, rate.window_ms]
        wait_ms, now_ms = await self._try(keys=[], args=args, client=self.redis)
        if int(wait_ms) > 0:
            return int(wait_ms), None
        return 0, Grant(int(now_ms), member)

    @staticmethod
    def _scope(scope: str) -> str:
        return SCOPE_FAMILY + bounded_key(scope)
