"""The worker's duration and wait histograms (queue_system/job_stats.py): counted by the worker itself and handed to
prometheus_client at scrape time, they must read exactly as prometheus_client's own ``Histogram`` fed the same
observations would (every bucket, including values on a bound, the count and the sum)."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from queue_system.job_stats import DURATION_BUCKETS, WAIT_BUCKETS, JobStats, _HistogramsCollector


def _series(text: bytes) -> list[str]:
    """The sample lines, without comments and without prometheus_client's ``_created`` series."""
    return sorted(
        line for line in text.decode().splitlines() if line and not line.startswith("#") and "_created" not in line
    )


def test_histograms_read_as_prometheus_clients_own() -> None:
    rng = random.Random(7)
    durations = [rng.choice(DURATION_BUCKETS) for _ in range(50)]  # exactly on a bound: "le" includes it
    durations += [rng.uniform(0, 5000) for _ in range(200)] + [0.0, 1e-9, 10_000.0]
    waits = [rng.expovariate(0.05) for _ in range(300)] + [-0.5]  # a clock step back is counted as 0

    stats = JobStats()
    reference = CollectorRegistry()
    duration = Histogram(
        "queue_system_job_duration_seconds",
        "How long attempts ran in this process, by outcome.",
        ["queue", "function", "outcome"],
        buckets=DURATION_BUCKETS,
        registry=reference,
    )
    wait = Histogram(
        "queue_system_job_wait_seconds",
        "From enqueue to the first try's start, for jobs this process started.",
        ["queue"],
        buckets=WAIT_BUCKETS,
        registry=reference,
    )
    for i, seconds in enumerate(durations):
        queue, function, outcome = ("alpha", "echo", "completed") if i % 3 else ("beta", "fails", "failed")
        stats.observe(queue, function, outcome, seconds)
        duration.labels(queue, function, outcome).observe(seconds)
    for seconds in waits:
        stats.observe_wait("alpha", seconds)
        wait.labels("alpha").observe(max(0.0, seconds))

    ours = CollectorRegistry()
    ours.register(_HistogramsCollector(stats))
    assert _series(generate_latest(ours)) == _series(generate_latest(reference))
    assert any('le="+Inf"' in line for line in _series(generate_latest(ours)))
