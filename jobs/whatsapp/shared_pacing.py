"""The shared pacer: per-sender and per-recipient send limits held in Redis, so they hold across every worker.

Why a ``Pacer`` and not a rate limit on a job: a blast is one job that sends thousands of messages (claiming
windows of deliveries in the database, at most once each), so the unit the Cloud API limits -- a message -- is
not a job. The framework's rate limits admit job *starts*; here the same sliding-log limiter
(``queue_system/lua/include/limits.lua``'s ``rate_wait``, included verbatim, under the same ``{prefix}:rate:``
key space and Redis's own clock) admits each *message*. Both limits are checked and recorded in one script call,
so a message is admitted only when the sender has room *and* the recipient's 6 s have passed, by any worker
process of any host. A throttle answer (429 / 130429) pauses the sender for every process through one key.

Scopes: ``k:whatsapp:sender:<phone number id>`` (``per_second`` messages in any 1 s window) and
``k:whatsapp:to:<E.164>`` (1 message per ``recipient_interval_s``); the pause key is
``{prefix}:whatsapp:pause:<sender scope>``.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

from queue_system.scripts import script_source

from .pacing import RECIPIENT_INTERVAL_S

# ARGV: prefix, sender scope, sender n (0 = unlimited), sender window ms, recipient scope ("" = none),
# recipient window ms, member id. Returns 0 when the message may go now (its starts recorded), else ms to wait.
_ADMIT = (
    script_source("limits", "lua/include")
    + """
local prefix = ARGV[1]
local now = limits_now()
local paused = redis.call("PTTL", prefix .. ":whatsapp:pause:" .. ARGV[2])
if paused > 0 then return paused end
local rates = {}
if tonumber(ARGV[3]) > 0 then rates[#rates + 1] = { ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]) } end
if ARGV[5] ~= "" then rates[#rates + 1] = { ARGV[5], 1, tonumber(ARGV[6]) } end
local wait = 0
for _, r in ipairs(rates) do
  wait = math.max(wait, rate_wait(prefix .. ":rate:" .. r[1], r[2], r[3], now))
end
if wait > 0 then return wait end
for _, r in ipairs(rates) do
  local key = prefix .. ":rate:" .. r[1]
  redis.call("ZADD", key, now, ARGV[7])
  redis.call("PEXPIRE", key, r[3] + 1000)
end
return 0
"""
)

# KEYS[1] the pause key, KEYS[2] the recipient's rate log (or the pause key again); ARGV[1] ms, ARGV[2] the
# throttled message's member ("" = none). Extends the pause, never shortens one another process set, and takes
# the throttled message out of its recipient's log: it was not taken, so its resend does not wait 6 s.
_PAUSE = """
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[1]) then
  redis.call("SET", KEYS[1], "1", "PX", ARGV[1])
end
if ARGV[2] ~= "" then redis.call("ZREM", KEYS[2], ARGV[2]) end
return 0
"""


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
        self.redis = redis
        self.prefix = prefix
        self.sender_scope = f"k:whatsapp:sender:{sender}"
        # n starts per window: a fractional rate (0.5/s) becomes 1 per 2 s, an integral one n per 1 s.
        self.sender_n, self.sender_window_ms = _per_window(per_second)
        self.recipient_window_ms = round(recipient_interval_s * 1000)
        self._admit = redis.register_script(_ADMIT)
        self._pause = redis.register_script(_PAUSE)
        self._token = uuid.uuid4().hex[:12]
        self._ids = itertools.count()
        self._last: dict[str, str] = {}  # phone -> its admitted message's log member, until the answer comes

    async def before_send(self, phone: str) -> None:
        recipient = f"k:whatsapp:to:{phone}" if self.recipient_window_ms > 0 else ""
        while True:
            member = f"{self._token}:{next(self._ids)}"
            args = [
                self.prefix,
                self.sender_scope,
                self.sender_n,
                self.sender_window_ms,
                recipient,
                self.recipient_window_ms,
                member,
            ]
            wait_ms = int(await self._admit(keys=[], args=args))
            if wait_ms <= 0:
                if recipient:
                    self._remember(phone, member)
                return
            await asyncio.sleep(wait_ms / 1000)

    def _remember(self, phone: str, member: str) -> None:
        """Only the latest admissions can still be throttled (the answer comes right after): keep a bounded few."""
        self._last.pop(phone, None)
        self._last[phone] = member
        if len(self._last) > REMEMBERED:
            del self._last[next(iter(self._last))]

    async def throttled(self, retry_after_s: float, phone: str | None = None) -> None:
        ms = max(1, round(retry_after_s * 1000))
        pause = f"{self.prefix}:whatsapp:pause:{self.sender_scope}"
        member = self._last.pop(phone, "") if phone else ""
        log_key = f"{self.prefix}:rate:k:whatsapp:to:{phone}" if member else pause
        await self._pause(keys=[pause, log_key], args=[ms, member])


def _per_window(per_second: float) -> tuple[int, int]:
    if per_second <= 0:
        return 0, 1000
    if per_second >= 1:
        return round(per_second), 1000
    return 1, round(1000 / per_second)
