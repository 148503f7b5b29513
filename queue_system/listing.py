"""Paged reads of a queue's jobs in one state from the indexes the Lua scripts keep (lua/include/state.lua), so
a listing, filtered or not, costs O(log n + page) at any queue size and its total is exact.

Which sorted set answers which listing:
  - completed, failed, aborted, delayed, retrying without a filter: ``{prefix}:jobs:{queue}:{state}``;
  - waiting without a filter: the queue's own ready band (:meth:`QueueAPI._waiting_page`), not read here;
  - any state but active, filtered by a function or a tag: that function's or tag's index of the state;
  - filtered by both: the smaller of the two indexes walked, each member looked up in the other
    (lua/intersect.lua), so a page costs its depth divided by how many of the smaller index match; the total is
    the tag's counter of its jobs per function (O(1));
  - active: no index at all (the workers' slots bound them); :class:`QueueAPI` finds them in the queue.
Payload-text search stays a bounded scan, but over the smallest index that the filters allow (:meth:`search_key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UnknownState
from .keys import Keys
from .scripts import ScriptArgs, script_source
from .types import JobState

if TYPE_CHECKING:
    from redis.asyncio import Redis

INTERSECT_BUDGET = 100_000  # members of the smaller index one page of a two-filter listing reads, at most


@dataclass(frozen=True)
class IndexPage:
    ids: list[str]
    more: bool
    total: int


@dataclass(frozen=True)
class Filters:
    """A listing's narrowing: a function, a ``(key, value)`` tag, both or neither."""

    function: str | None = None
    tag: tuple[str, str] | None = None

    def __bool__(self) -> bool:
        return bool(self.function) or self.tag is not None


class Indexes:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._intersect = redis.register_script(script_source("intersect"))

    def keys_for(self, queue: str, state: JobState, filters: Filters) -> list[str]:
        """The indexes whose intersection is the listing (one key without a filter)."""
        if state is JobState.ACTIVE or (state is JobState.WAITING and not filters):
            raise UnknownState(f"{state.value} jobs without an index of their own are not listed here")
        found = []
        if filters.function:
            found.append(self.keys.function_index(queue, state, filters.function))
        if filters.tag is not None:
            found.append(self.keys.tag_index(queue, state, *filters.tag))
        return found or [self.keys.index(queue, state)]

    async def page(
        self, queue: str, state: JobState, filters: Filters, offset: int, limit: int, *, ascending: bool = False
    ) -> IndexPage:
        """A page by rank, newest (highest score) first unless ``ascending``, with the listing's exact total."""
        keys = await self._smallest_first(self.keys_for(queue, state, filters))
        if len(keys) > 1 and filters.tag is not None:
            counted = [*keys, self.keys.tag_counts(queue, *filters.tag)]
            field = f"fn:{filters.function}:{state.value}"
            args: ScriptArgs = [offset, limit, "asc" if ascending else "desc", INTERSECT_BUDGET, field]
            ids, more, total = await self._intersect(keys=counted, args=args, client=self.redis)
            return IndexPage([i.decode() for i in ids], bool(more), int(total))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(keys[0])
            if ascending:
                pipe.zrange(keys[0], offset, offset + limit - 1)
            else:
                pipe.zrevrange(keys[0], offset, offset + limit - 1)
            total, raw = await pipe.execute()
        return IndexPage([i.decode() for i in raw], offset + len(raw) < int(total), int(total))

    async def search_key(self, queue: str, state: JobState, filters: Filters) -> tuple[str, int]:
        """The smallest index a filtered search must read (the record check does the rest), and its size."""
        keys = self.keys_for(queue, state, filters)
        sizes = await self._sizes(keys)
        smallest = min(range(len(keys)), key=sizes.__getitem__)
        return keys[smallest], sizes[smallest]

    async def _smallest_first(self, keys: list[str]) -> list[str]:
        if len(keys) == 1:
            return keys
        sizes = await self._sizes(keys)
        return [key for _, key in sorted(zip(sizes, keys, strict=True))]

    async def _sizes(self, keys: list[str]) -> list[int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcard(key)
            return [int(n) for n in await pipe.execute()]
