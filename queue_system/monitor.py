"""A worker's companion task: heartbeats, flushing job totals, and the reasons a healthy worker retires.

About once a second it writes the worker's heartbeat (heartbeat.py), adds its job counts to Redis (job_stats.py)
and checks whether the worker should finish its running jobs and exit 0 so its supervisor starts a fresh one:
a ``queue-system restart`` request (restart.py), ``--max-jobs`` attempts done, or its resident memory above
``--memory`` MB (Laravel's worker flags: a slow leak or fragmentation ends in a planned restart, not an OOM kill).
With ``--metrics-port`` it also serves this process's Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .connection import REDIS_DOWN_ERRORS, raise_if_cancelled
from .heartbeat import WorkerInfo, beat, forget
from .job_stats import STATS, JobStats, process_metrics
from .keys import Keys
from .logging_setup import get_logger
from .restart import restart_marker

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger("queue_system.monitor")
BEAT_EVERY_S = 1.0


@dataclass(frozen=True)
class WorkerOps:
    """How a worker process retires and reports (the worker command's ``--max-jobs``, ``--memory``, ``--metrics-*``)."""

    max_jobs: int | None = None  # attempts (completed, failed or retried) after which it exits 0
    memory_mb: float | None = None  # resident memory above which it exits 0
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"


class Outcomes(Protocol):
    completed: int
    failed: int
    retried: int


class MonitoredWorker(Protocol):
    """What the monitor reads from the worker (worker.py's QueueWorker)."""

    queues: list[str]
    max_jobs: int
    token_prefix: str
    running: dict[str, Any]

    @property
    def executor(self) -> Outcomes: ...

    @property
    def stopping(self) -> bool: ...

    def request_stop(self, reason: str) -> None: ...


class WorkerMonitor:
    def __init__(
        self, worker: MonitoredWorker, redis: Redis, keys: Keys, ops: WorkerOps, stats: JobStats = STATS
    ) -> None:
        self.worker = worker
        self.redis = redis
        self.keys = keys
        self.ops = ops
        self.stats = stats
        self.started_at_ms = int(time.time() * 1000)
        import psutil  # only a worker needs it

        self.process = psutil.Process()
        self.restart_seen: str | None = None  # the restart request's value at start-up
        self._server: Any = None

    async def run(self) -> None:
        """Beat until cancelled; on the way out flush the totals and remove the heartbeat."""
        self._serve_metrics()
        try:
            while True:
                try:
                    await self.tick()
                except REDIS_DOWN_ERRORS as exc:
                    raise_if_cancelled()
                    log.warning("monitor.redis_unavailable", error=str(exc))
                raise_if_cancelled()  # redis-py may have used up our cancellation (a worker that never exits)
                await asyncio.sleep(BEAT_EVERY_S)
        finally:
            await asyncio.shield(self._close())

    async def tick(self) -> None:
        if self.restart_seen is None:
            self.restart_seen = await restart_marker(self.redis, self.keys)
        elif await restart_marker(self.redis, self.keys) != self.restart_seen:
            self._retire("restart requested")
        rss = self.process.memory_info().rss
        self._check_limits(rss)
        self.stats.set_running(len(self.worker.running))
        await self.stats.flush(self.redis, self.keys)
        await beat(self.redis, self.keys, self.info(rss))

    def after_job(self) -> None:
        """A job of this worker ended: retire at once when ``--max-jobs`` is reached (not a beat later)."""
        if self.ops.max_jobs is not None:
            self._check_limits(0)

    def on_restart(self, value: str) -> None:
        """The control channel announced a restart request (restart.py)."""
        if self.restart_seen is not None and value != self.restart_seen:
            self._retire("restart requested")

    def info(self, rss: int) -> WorkerInfo:
        outcomes = self.worker.executor
        return WorkerInfo(
            id=self.worker.token_prefix,
            host=socket.gethostname(),
            pid=os.getpid(),
            queues=tuple(self.worker.queues),
            concurrency=self.worker.max_jobs,
            started_at_ms=self.started_at_ms,
            last_beat_ms=int(time.time() * 1000),
            jobs_done=outcomes.completed,
            jobs_failed=outcomes.failed,
            jobs_retried=outcomes.retried,
            current_jobs=tuple(self.worker.running),
            rss_bytes=rss,
            state="stopping" if self.worker.stopping else "running",
            metrics_port=self.ops.metrics_port,
        )

    def _check_limits(self, rss: int) -> None:
        outcomes = self.worker.executor
        done = outcomes.completed + outcomes.failed + outcomes.retried
        if self.ops.max_jobs is not None and done >= self.ops.max_jobs:
            self._retire(f"max jobs reached ({done} >= {self.ops.max_jobs})")
        if self.ops.memory_mb is not None and rss and rss > self.ops.memory_mb * 1024 * 1024:
            self._retire(f"memory limit passed ({rss // (1024 * 1024)} MB > {self.ops.memory_mb:g} MB)")

    def _retire(self, reason: str) -> None:
        if not self.worker.stopping:
            log.info("worker.retiring", reason=reason, worker=self.worker.token_prefix)
            self.worker.request_stop(reason)

    def _serve_metrics(self) -> None:
        if self.ops.metrics_port is None or self._server is not None:
            return
        from prometheus_client import start_http_server

        process_metrics()  # registered before the first scrape, even with no job run yet
        served = start_http_server(self.ops.metrics_port, addr=self.ops.metrics_host)
        self._server = served[0] if isinstance(served, tuple) else served
        log.info("worker.metrics_serving", host=self.ops.metrics_host, port=self.ops.metrics_port)

    async def _close(self) -> None:
        try:
            await self.stats.flush(self.redis, self.keys)
            await forget(self.redis, self.keys, self.worker.token_prefix)
        except REDIS_DOWN_ERRORS as exc:
            log.warning("monitor.close_failed", error=str(exc))
        if self._server is not None:
            self._server.shutdown()
            self._server = None
