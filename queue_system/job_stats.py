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

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from .keys import Keys

if TYPE_CHECKING:
    from redis.asyncio import Redis

EVENTS = ("enqueued", "started", "completed", "failed", "retried", "postponed")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400)


class Histogram:
    """One label set's observations: a count per bucket (not cumulative; the last is +Inf) and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)
        self.total = 0.0

    def observe(self, bounds: tuple[float, ...], value: float) -> None:
        self.counts[bisect_left(bounds, value)] += 1  # the first bucket whose bound is >= value: Prometheus' "le"
        self.total += value


@dataclass(frozen=True)
class ProcessMetrics:
    running: Any


@cache
def process_metrics() -> ProcessMetrics:
    """This process's Prometheus metrics, registered on first use: a CLI command or a producer that runs no job
    never imports prometheus_client (it is a tenth of the CLI's start-up)."""
    from prometheus_client import REGISTRY, Gauge

    REGISTRY.register(_HistogramsCollector(STATS))
    return ProcessMetrics(running=Gauge("queue_system_process_jobs_running", "Jobs running in this process now."))


class JobStats:
    """This process's job counts (to flush to Redis) and its duration and wait histograms.

    The counts are not Prometheus counters too: the cluster totals are exported from Redis, and the duration
    histogram's ``_count`` by outcome already gives each process's own (a counter would cost as much again per job).
    The histograms are counted here and handed to prometheus_client only when scraped (``_HistogramsCollector``):
    its ``Histogram.observe`` (a lock per bucket and sum, a loop over the bounds) cost a no-op job twice what the
    bucket's ``bisect`` here does, and a worker observes two per job.
    """

    def __init__(self) -> None:
        self.pending: Counter[tuple[str, str, str]] = Counter()  # (queue, function, event) -> not yet in Redis
        self.durations: dict[tuple[str, str, str], Histogram] = {}  # (queue, function, outcome)
        self.waits: dict[str, Histogram] = {}  # queue

    def record(self, queue: str, function: str, event: str, n: int = 1) -> None:
        self.pending[(queue, function, event)] += n

    def observe(self, queue: str, function: str, outcome: str, seconds: float) -> None:
        key = (queue, function, outcome)
        histogram = self.durations.get(key)
        if histogram is None:
            histogram = self.durations[key] = Histogram(len(DURATION_BUCKETS))
        histogram.observe(DURATION_BUCKETS, seconds)

    def observe_wait(self, queue: str, seconds: float) -> None:
        histogram = self.waits.get(queue)
        if histogram is None:
            histogram = self.waits[queue] = Histogram(len(WAIT_BUCKETS))
        histogram.observe(WAIT_BUCKETS, max(0.0, seconds))

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


class _HistogramsCollector:
    """``queue_system_job_duration_seconds`` and ``queue_system_job_wait_seconds`` from a JobStats, at scrape time
    (prometheus_client's collector interface: ``collect`` yields metric families)."""

    def __init__(self, stats: JobStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import HistogramMetricFamily

        duration = HistogramMetricFamily(
            "queue_system_job_duration_seconds",
            "How long attempts ran in this process, by outcome.",
            labels=["queue", "function", "outcome"],
        )
        for labels, histogram in list(self.stats.durations.items()):
            duration.add_metric(list(labels), *_exposed(DURATION_BUCKETS, histogram))
        wait = HistogramMetricFamily(
            "queue_system_job_wait_seconds",
            "From enqueue to the first try's start, for jobs this process started.",
            labels=["queue"],
        )
        for queue, histogram in list(self.stats.waits.items()):
            wait.add_metric([queue], *_exposed(WAIT_BUCKETS, histogram))
        yield from (duration, wait)


def _exposed(bounds: tuple[float, ...], histogram: Histogram) -> tuple[list[tuple[str, float]], float]:
    """Cumulative buckets by their ``le`` text, and the sum (the counts copied first: the worker's loop goes on)."""
    from prometheus_client.utils import floatToGoString  # (untyped: the "le" text as prometheus_client writes it)

    counts, total = list(histogram.counts), histogram.total
    cumulative = list(accumulate(counts))
    buckets = zip((*bounds, math.inf), cumulative, strict=True)
    return [(floatToGoString(b), c) for b, c in buckets], total  # type: ignore[no-untyped-call]
