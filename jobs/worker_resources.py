"""Per-worker resources of a job package (database engine, HTTP clients, SMTP pool): opened once per worker,
kept in the job context, closed at shutdown.

The startup hook opens them; a job that runs without the hook (a test, a worker wired without hooks) opens them
on first use, once, under a lock, so concurrent first jobs do not open two sets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from queue_system import JobContext

Hook = Callable[[JobContext], Awaitable[None]]


class Closeable(Protocol):
    async def close(self) -> None: ...


R = TypeVar("R", bound=Closeable)


def lifecycle_hooks(key: str, open_resources: Callable[[], Awaitable[R]]) -> tuple[Hook, Hook]:
    """``(on_startup, on_shutdown)`` for ``worker_settings(...)``, keeping the resources under ``ctx[key]``."""

    async def on_startup(ctx: JobContext) -> None:
        ctx[key] = await open_resources()

    async def on_shutdown(ctx: JobContext) -> None:
        resources: R | None = ctx.pop(key, None)
        if resources is not None:
            await resources.close()

    return on_startup, on_shutdown


async def resources_in(ctx: JobContext, key: str, open_resources: Callable[[], Awaitable[R]]) -> R:
    """The worker's resources under ``ctx[key]``, opened now if no startup hook did it."""
    resources: R | None = ctx.get(key)
    if resources is not None:
        return resources
    lock: asyncio.Lock = ctx.setdefault(f"{key}_lock", asyncio.Lock())
    async with lock:
        resources = ctx.get(key)
        if resources is None:
            resources = ctx[key] = await open_resources()
        return resources
