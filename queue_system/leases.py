"""Leases on running jobs: renewed while the job runs, so only a dead worker's job is run again.

A lease is arq's in-progress key holding the attempt's fencing token (lua/claim.lua). The keeper renews every
lease this worker holds, in one script call, every third of the lease time. A lease found lost (it expired while
the worker was stalled, or another worker took the job over) is reported, so the worker can cancel the job: its
outcome would be refused by lua/finish.lua anyway. A renewal also reports jobs whose abort was requested, the
fallback for a worker that missed the abort message on its control channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .connection import REDIS_DOWN_ERRORS, raise_if_cancelled
from .keys import in_progress_key
from .logging_setup import get_logger
from .scripts import Scripts

log = get_logger("queue_system.leases")


class LeaseKeeper:
    def __init__(
        self,
        redis: Any,
        scripts: Scripts,
        *,
        lease_s: float,
        prefix: str,
        on_lost: Callable[[str], None],
        on_abort: Callable[[str], None],
    ) -> None:
        self.redis = redis
        self.scripts = scripts
        self.lease_ms = int(lease_s * 1000)
        self.interval_s = lease_s / 3
        self.prefix = prefix
        self.on_lost = on_lost
        self.on_abort = on_abort
        self.tokens: dict[str, str] = {}  # job id -> token

    def hold(self, job_id: str, token: str) -> None:
        self.tokens[job_id] = token

    def release(self, job_id: str) -> None:
        self.tokens.pop(job_id, None)

    async def run(self) -> None:
        """Renew forever (until cancelled); Redis outages are logged and retried at the next interval."""
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.renew()
            except REDIS_DOWN_ERRORS as exc:
                raise_if_cancelled()
                log.warning("lease.renew_failed", error=str(exc), leases=len(self.tokens))
            raise_if_cancelled()

    async def renew(self) -> list[str]:
        held = list(self.tokens.items())
        if not held:
            return []
        lost_indexes, abort_indexes = await self.scripts.renew(
            keys=[in_progress_key(job_id) for job_id, _ in held],
            args=[self.lease_ms, self.prefix, *(token for _, token in held)],
            client=self.redis,
        )
        for i in abort_indexes:
            self.on_abort(held[int(i) - 1][0])
        lost = [held[int(i) - 1][0] for i in lost_indexes]
        for job_id in lost:
            if job_id in self.tokens:
                log.warning("lease.lost", job_id=job_id)
                self.tokens.pop(job_id, None)
                self.on_lost(job_id)
        return lost
