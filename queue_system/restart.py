"""``queue-system restart``: every worker on every host finishes its running jobs and exits, so a supervisor
(ours, systemd, Docker, Kubernetes) starts fresh ones with the newly deployed code (Laravel's ``queue:restart``).

The request is a value in ``{prefix}:restart`` (the time it was asked, ms) and an announcement on the control
channel (``restart <ms>``), which reaches idle and busy workers at once. A worker remembers the value it saw at
start-up and exits when the key holds another one (checked on every heartbeat too, so a worker that missed the
announcement while reconnecting still goes). Comparing values, not clocks, keeps a fresh worker on a host whose
clock lags from exiting again. Jobs are never cut off: the worker stops claiming, lets its running jobs finish
within the shutdown grace period and exits 0; jobs still queued wait for the fresh workers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .keys import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis


async def request_restart(redis: Redis, keys: Keys) -> str:
    """Ask every worker to restart; returns the request's value."""
    value = str(int(time.time() * 1000))
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.restart, value)
        pipe.publish(keys.control, f"restart {value}")
        await pipe.execute()
    return value


async def restart_marker(redis: Redis, keys: Keys) -> str:
    """The last restart request's value ("" if none was ever made)."""
    raw = await redis.get(keys.restart)
    return raw.decode() if raw else ""
