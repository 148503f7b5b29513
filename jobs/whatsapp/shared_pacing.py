"""The shared pacer: per-sender and per-recipient send limits held in Redis, so they hold across every worker.

Why a ``Pacer`` and not a rate limit on a job: a blast is one job that sends thousands of messages (claiming
windows of deliveries in the database, at most once each), so the unit the Cloud API limits -- a message -- is
not a job. The framework's rate limits admit job *starts*; its ``SharedRateLimiter`` (queue_system/throttle.py,
the same sliding log by Redis's own clock) admits anything else, here each *message*. Both limits are checked and
recorded in one script call (``acquire_all``), so a message is admitted only when the sender has room *and* the
recipient's 6 s have passed, by any worker process of any host. A throttle answer (429 / 130429) pauses the sender
for every process, and gives the throttled message's recipient its turn back.

Scopes (throttle.py keys them ``{prefix}:rate:t:<scope>``, pauses ``{prefix}:throttle-pause:t:<scope>``):
``whatsapp:sender:<phone number id>`` (``per_second`` messages a second) and ``whatsapp:to:<E.164>`` (1 message
per ``recipient_interval_s``).
"""

from __future__ import annotations

from typing import Any

from queue_system import Grant, Rate, SharedRateLimiter

from .pacing import RECIPIENT_INTERVAL_S

REMEMBERED = 4096  # more than the messages one process has in flight at once


class RedisPacer:
    """``Pacer`` over Redis: exact across processes, one script call per admitted message."""

    def __init__(
        self,
        redis: Any,
        prefix: str,
        sender: str,
        per_second: float,
        recipient_interval_s: float = RECIPIENT_INTERVAL_S,
    ) -> None:
        self.limiter = SharedRateLimiter(redis, prefix)
        self.sender = Rate.per_second(f"whatsapp:sender:{sender}", per_second)
        self.recipient_interval_s = recipient_interval_s
        self._last: dict[str, Grant] = {}  # phone -> its admitted message's grant, until the answer comes

    def _recipient(self, phone: str) -> Rate | None:
        return Rate(f"whatsapp:to:{phone}", 1, self.recipient_interval_s) if self.recipient_interval_s > 0 else None

    async def before_send(self, phone: str) -> None:
        recipient = self._recipient(phone)
        grant = await self.limiter.acquire_all([self.sender, recipient] if recipient else [self.sender])
        if recipient:
            self._remember(phone, grant)

    def _remember(self, phone: str, grant: Grant) -> None:
        """Only the latest admissions can still be throttled (the answer comes right after): keep a bounded few."""
        self._last.pop(phone, None)
        self._last[phone] = grant
        if len(self._last) > REMEMBERED:
            del self._last[next(iter(self._last))]

    async def throttled(self, retry_after_s: float, phone: str | None = None) -> None:
        await self.limiter.pause(self.sender.scope, retry_after_s)
        grant = self._last.pop(phone, None) if phone else None
        recipient = self._recipient(phone) if phone else None
        if grant is not None and recipient is not None:
            await self.limiter.release(grant, recipient.scope)
