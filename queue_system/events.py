"""The event stream: what happened to jobs and queues, for another process to follow live or replay.

Events are written by the Lua scripts in the same atomic step as the change they report (include/state.lua):
``retrying``, ``completed``, ``failed``, ``aborted``, ``progress``, ``paused``, ``resumed``, ``cleaned`` and
``removed`` (one job deleted through ``QueueAPI.remove``); the supervisor adds ``scaling_up`` and ``scaling_down``
(``publish``).
There is no event for a job's start or enqueue: they would add a stream entry to every claim and enqueue, the
hot path (bench/bookkeeping.py), and the counts show both. Events go to the Redis stream ``{prefix}:events``,
trimmed to about ``QS_EVENTS_MAXLEN`` entries (0 turns events off). A stream, unlike pub/sub, keeps the recent
past: a reader that reconnects replays from the last id it saw, or the last N, then blocks for new ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from .connection import raise_if_cancelled
from .keys import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis

_COMMON = {"event", "job_id", "queue", "function", "tags"}


@dataclass(frozen=True)
class Event:
    """One event. ``id`` is the stream id (``<ms>-<n>``, increasing); ``data`` holds the event's own fields
    (``try``, ``error``, ``due``, ``progress``, ``message``, ``state``, ``count``)."""

    id: str
    event: str
    job_id: str = ""
    queue: str = ""
    function: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)

    @property
    def at_ms(self) -> int:
        return int(self.id.split("-", 1)[0])

    @classmethod
    def parse(cls, stream_id: bytes | str, raw: dict[bytes, bytes]) -> Event:
        values = {k.decode(): v.decode() for k, v in raw.items()}
        try:
            tags = orjson.loads(values.get("tags") or "{}")
        except orjson.JSONDecodeError:
            tags = {}
        return cls(
            id=stream_id.decode() if isinstance(stream_id, bytes) else stream_id,
            event=values.get("event", ""),
            job_id=values.get("job_id", ""),
            queue=values.get("queue", ""),
            function=values.get("function", ""),
            tags=tags if isinstance(tags, dict) else {},
            data={k: v for k, v in values.items() if k not in _COMMON},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at_ms": self.at_ms,
            "event": self.event,
            "job_id": self.job_id,
            "queue": self.queue,
            "function": self.function,
            "tags": self.tags,
            **self.data,
        }


class EventStream:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.key = keys.events

    async def last(self, count: int) -> list[Event]:
        """The last ``count`` events, oldest first."""
        if count <= 0:
            return []
        entries = await self.redis.xrevrange(self.key, count=count)
        return [Event.parse(stream_id, raw) for stream_id, raw in reversed(entries)]

    async def since(self, start_ms: int, *, limit: int = 100_000) -> list[Event]:
        """Every event the stream holds from ``start_ms`` on, oldest first (at most ``limit``)."""
        entries = await self.redis.xrange(self.key, min=f"{start_ms}-0", max="+", count=limit)
        return [Event.parse(stream_id, raw) for stream_id, raw in entries]

    async def follow(self, *, last: int = 0, after: str | None = None, block_ms: int = 5000) -> AsyncIterator[Event]:
        """Replay the last ``last`` events (or everything after the id ``after``), then yield new ones as they
        come, forever. Resuming with ``after=<the last id seen>`` misses nothing the stream still holds."""
        cursor = after
        if cursor is None:
            replay = await self.last(last)
            if replay:
                cursor = replay[-1].id
            else:
                newest = await self.redis.xrevrange(self.key, count=1)
                cursor = newest[0][0].decode() if newest else "0-0"
            for event in replay:
                yield event
        while True:
            answer = await self.redis.xread({self.key: cursor}, count=500, block=block_ms)
            raise_if_cancelled()  # redis-py may have retried through our cancellation
            for _stream, entries in answer or []:
                for stream_id, raw in entries:
                    event = Event.parse(stream_id, raw)
                    cursor = event.id
                    yield event


async def publish(redis: Redis, keys: Keys, maxlen: int, event: str, **values: str) -> None:
    """Append an event that no Lua script writes (the supervisor's scaling decisions); 0 = events off."""
    if maxlen > 0:
        fields: dict[str | bytes, str] = {"event": event}
        fields.update(values)
        await redis.xadd(keys.events, fields, maxlen=maxlen, approximate=True)  # type: ignore[arg-type]
