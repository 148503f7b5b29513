"""What a running job tells the world: progress (0-100 and a message) and log lines (python-arq/arq#425).

    @job(queue="product-items")
    async def build_items(ctx: JobContext, batch_id: int) -> None:
        report = reporter(ctx)                    # typed; also ctx["progress"] and ctx["log"]
        await report.log(f"batch {batch_id}: 100 items")
        await report.progress(50, "half way")

Both are written by lua/report.lua only while this attempt still owns the job (its record says active and,
under ``queue-system worker``, its lease holds this attempt's token), so a stale attempt cannot overwrite a newer
one. Progress lands in the job's record and emits a ``progress`` event; log lines are kept per job, the last
``QS_JOB_LOG_LINES`` (200). Both are readable while the job runs and afterwards, as long as its record is kept
(``QueueAPI.job(id)``, ``queue-system job ID``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .config import QueueConfig
    from .scripts import Scripts

CTX_REPORTER = "reporter"
MAX_LINE_CHARS = 2000
MAX_MESSAGE_CHARS = 500


class JobReporter:
    """Progress and logs of one attempt of one job; found in ``ctx["reporter"]`` (see :func:`reporter`)."""

    __slots__ = ("_config", "_redis", "_scripts", "_token", "job_id")

    def __init__(self, redis: Redis, scripts: Scripts, config: QueueConfig, job_id: str, token: str) -> None:
        self._redis = redis
        self._scripts = scripts
        self._config = config
        self._token = token
        self.job_id = job_id

    async def progress(self, percent: float, message: str = "") -> bool:
        """Record progress (clamped to 0..100) and an optional message. False if the attempt lost the job."""
        value = min(100.0, max(0.0, float(percent)))
        args = [*self._head("progress"), f"{value:g}", message[:MAX_MESSAGE_CHARS]]
        return bool(await self._scripts.report(keys=[], args=args, client=self._redis))

    async def log(self, *lines: str) -> bool:
        """Append log lines (each cut at 2000 characters). False if the attempt lost the job."""
        if not lines:
            return True
        stamp = str(int(time.time() * 1000))
        stamped = [f"{stamp} {str(line)[:MAX_LINE_CHARS]}" for line in lines]
        args = [*self._head("log"), self._config.job_log_lines, *stamped]
        return bool(await self._scripts.report(keys=[], args=args, client=self._redis))

    def _head(self, kind: str) -> list[Any]:
        return [self._config.prefix, self._config.events_maxlen, self.job_id, self._token, kind]


def reporter(ctx: dict[str, Any]) -> JobReporter:
    """The running job's reporter, typed: ``await reporter(ctx).progress(50, "half way")``."""
    found = ctx.get(CTX_REPORTER)
    if not isinstance(found, JobReporter):
        raise ConfigError("no job reporter in this context: it exists only inside a job run by a worker")
    return found


def parse_log_line(raw: bytes | str) -> tuple[int, str]:
    """``"<ms> <text>"`` as stored -> (ms, text)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    stamp, _, line = text.partition(" ")
    return (int(stamp) if stamp.isdigit() else 0), line
