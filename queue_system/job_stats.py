"""Per-process job statistics: Prometheus histograms for this process, and totals that every process adds to Redis.

Totals by queue and function (``started``, ``completed``, ``failed``, ``retried``, ``postponed``) are counted in
memory as jobs run and added to ``{prefix}:stats:{queue}`` (fields ``{event}:{function}``) by the worker about
once a second (``flush``), off the job's hot path. ``enqueued`` is counted by lua/enqueue.lua itself. So the
cluster totals that metrics.py exports come from Redis, and every scrape of every API replica agrees. Durations and
waits are histograms of this process only (Prometheus sums them across the workers it scrapes).

``postponed`` (a job put back by a rate limit or a ``SlowDown``) is counted by the Lua step that puts
it back (lua/include/limits.lua), in the same hash.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from .keys import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis

EVENTS = ("enqueued", "started", "completed", "failed", "retried", "postponed")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)


@dataclass(frozen=True)
class ProcessMetrics:
    duration: Any
    wait: Any
    running: Any


@cache
def process_metrics() -> ProcessMetrics:
    """This process's Prometheus metrics, registered on first use: a CLI command or a producer that runs no job
    never imports prometheus_client (it is a tenth of the CLI's start-up)."""
    from prometheus_client import Gauge, Histogram

    return ProcessMetrics(
        duration=Histogram(
            "queue_system_job_duration_seconds",
            "How long attempts ran in this process, by outcome.",
            ["queue", "function", "outcome"],
            buckets=DURATION_BUCKETS,
        ),
        wait=Histogram(
            "queue_system_job_wait_seconds",
            "From enqueue to the first try's start, for jobs this process started.",
            ["queue"],
            buckets=WAIT_BUCKETS,
        ),
        running=Gauge("queue_system_process_jobs_running", "Jobs running in this process now."),
    )


class JobStats:
    """This process's job counts (to flush to Redis) and its histograms.

    The counts are not Prometheus counters too: the cluster totals are exported from Redis, and the duration
    histogram's ``_count`` by outcome already gives each process's own (a counter would cost as much again per job).
    """

    def __init__(self) -> None:
        self.pending: Counter[tuple[str, str, str]] = Counter()  # (queue, function, event) -> not yet in Redis
        # labelled children, found once: prometheus_client's labels() costs more than the observation itself
        self._durations: dict[tuple[str, str, str], Any] = {}
        self._waits: dict[str, Any] = {}

    def record(self, queue: str, function: str, event: str, n: int = 1) -> None:
        self.pending[(queue, function, event)] += n

    def observe(self, queue: str, function: str, outcome: str, seconds: float) -> None:
        key = (queue, function, outcome)
        child = self._durations.get(key)
        if child is None:
            child = self._durations[key] = process_metrics().duration.labels(queue, function, outcome)
        child.observe(seconds)

    def observe_wait(self, queue: str, seconds: float) -> None:
        child = self._waits.get(queue)
        if child is None:
            child = self._waits[queue] = process_metrics().wait.labels(queue)
        child.observe(max(0.0, seconds))

    def set_running(self, count: int) -> None:
        process_metrics().running.set(count)

    async def flush(self, redis: Redis, keys: Keys) -> int:
        """Add the counts not yet in Redis; on failure they stay pending for the next flush. Returns how many."""
        batch, self.pending = self.pending, Counter()
        if not batch:
            return 0
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for (queue, function, event), n in batch.items():
                    pipe.hincrby(keys.stats(queue), f"{event}:{function}", n)
                await pipe.execute()
        except BaseException:
            self.pending.update(batch)
            raise
        return sum(batch.values())


STATS = JobStats()  # one per process: the middleware records, the worker's monitor flushes
