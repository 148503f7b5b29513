"""Prometheus metrics of the whole system, read from Redis, for the API's and the supervisor's ``/metrics``.

Everything here comes from what Redis keeps for all processes (counts per state, the totals workers flush,
heartbeats), so every scrape of every replica shows the same numbers and nothing is counted twice: scrape one
of them (the API or the supervisor). The per-process histograms (job duration and wait) and each worker's own
counters live in job_stats.py, served by each worker with ``--metrics-port``.

Names: ``queue_system_jobs_{enqueued,started,completed,failed,retried,postponed}_total{queue,function}``,
``queue_system_jobs_aborted_total{queue}``, ``queue_system_queue_jobs{queue,state}``,
``queue_system_queue_paused{queue}``, ``queue_system_queue_oldest_waiting_seconds{queue}``,
``queue_system_queue_workers{queue}``, ``queue_system_workers``, ``queue_system_worker_resident_memory_bytes``
and ``queue_system_worker_jobs_running{worker,host}``. ``postponed`` counts jobs put back by a rate limit
or a ``SlowDown`` (and, under arq's own worker, a full cap): lua/include/limits.lua.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .api import QueueAPI
from .heartbeat import WorkerInfo, workers_by_queue
from .job_stats import EVENTS
from .views import Counts, QueueStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Snapshot:
    """What one scrape shows, read from Redis in one go."""

    stats: list[QueueStats] = field(default_factory=list)
    totals: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)  # queue -> (event, fn) -> n
    oldest_s: dict[str, float] = field(default_factory=dict)
    workers: list[WorkerInfo] = field(default_factory=list)


async def take_snapshot(api: QueueAPI) -> Snapshot:
    stats = await api.stats()
    names = [s.queue for s in stats]
    return Snapshot(
        stats=stats,
        totals={q: await api.job_totals(q) for q in names},
        oldest_s={q: await api.oldest_waiting_age_s(q) for q in names},
        workers=await api.workers(),
    )


class SnapshotCollector(Collector):
    """Turns the latest snapshot into metric families (the supervisor refreshes ``snapshot`` every tick)."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self.snapshot = snapshot or Snapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        yield from _totals(snap)
        aborted = CounterMetricFamily("queue_system_jobs_aborted", "Jobs aborted, by queue.", labels=["queue"])
        depth = GaugeMetricFamily("queue_system_queue_jobs", "Jobs per queue and state now.", labels=["queue", "state"])
        paused = GaugeMetricFamily("queue_system_queue_paused", "1 while the queue is paused.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "queue_system_queue_oldest_waiting_seconds", "Age of the oldest waiting job.", labels=["queue"]
        )
        for stats in snap.stats:
            aborted.add_metric([stats.queue], stats.totals.aborted)
            for f in fields(Counts):
                depth.add_metric([stats.queue, f.name], getattr(stats.counts, f.name))
            paused.add_metric([stats.queue], 1 if stats.paused else 0)
            oldest.add_metric([stats.queue], snap.oldest_s.get(stats.queue, 0.0))
        yield from (aborted, depth, paused, oldest)
        yield from _workers(snap)


def _totals(snap: Snapshot) -> Iterator[Metric]:
    families = {
        event: CounterMetricFamily(f"queue_system_jobs_{event}", f"Jobs {event}, by queue and function.",
                                   labels=["queue", "function"])
        for event in EVENTS
    }  # fmt: skip
    for queue, totals in sorted(snap.totals.items()):
        for (event, function), value in sorted(totals.items()):
            if event in families:
                families[event].add_metric([queue, function], value)
    yield from families.values()


def _workers(snap: Snapshot) -> Iterator[Metric]:
    per_queue = GaugeMetricFamily("queue_system_queue_workers", "Live workers serving the queue.", labels=["queue"])
    served = workers_by_queue(snap.workers)
    for queue in sorted({s.queue for s in snap.stats} | set(served)):
        per_queue.add_metric([queue], served.get(queue, 0))
    alive = GaugeMetricFamily("queue_system_workers", "Live worker processes (by heartbeat).")
    alive.add_metric([], len(snap.workers))
    memory = GaugeMetricFamily(
        "queue_system_worker_resident_memory_bytes", "Each live worker's memory.", labels=["worker", "host"]
    )
    running = GaugeMetricFamily("queue_system_worker_jobs_running", "Jobs each worker runs.", labels=["worker", "host"])
    for info in snap.workers:
        memory.add_metric([info.id, info.host], info.rss_bytes)
        running.add_metric([info.id, info.host], len(info.current_jobs))
    yield from (per_queue, alive, memory, running)


def render(snapshot: Snapshot) -> bytes:
    """The snapshot in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


async def exposition(api: QueueAPI) -> bytes:
    return render(await take_snapshot(api))
