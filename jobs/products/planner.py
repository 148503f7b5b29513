"""Splitting a request for N product items into jobs over fixed ranges of sequence numbers.

``batch_size`` items per job (the seed's 100), but never more than ``max_jobs_per_batch`` jobs: past that, each
job takes more items (1 000 000 items at 100 per job and at most 1000 jobs → 1000 jobs of 1000). Each job owns
a fixed range ``[first_sequence, first_sequence + count)``, decided here once, so a retried job recreates exactly
its own items and no two jobs can produce the same sequence number.

The estimate follows the queue's pace (the seed's: 5 jobs per 10 s, 2 at a time): jobs start no faster than the
rate limit allows and run no more than ``concurrency`` at once; whichever is slower decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import InvalidItemRequest

MAX_QUANTITY = 1_000_000


@dataclass(frozen=True)
class QueuePace:
    jobs_per_window: int = 5
    window_s: float = 10.0
    concurrency: int = 2
    seconds_per_item: float = 0.001  # measured: well under a millisecond per item in chunks of 50


SEED_PACE = QueuePace()


@dataclass(frozen=True)
class ItemJob:
    index: int  # 0 = the first job: it runs first
    first_sequence: int
    count: int

    @property
    def last_sequence(self) -> int:
        return self.first_sequence + self.count - 1


@dataclass(frozen=True)
class ItemPlan:
    quantity: int
    items_per_job: int
    jobs: list[ItemJob]
    estimated_duration_s: float

    @property
    def estimated_duration(self) -> str:
        return describe_duration(self.estimated_duration_s)


def plan_product_items(
    quantity: int,
    batch_size: int = 100,
    max_jobs_per_batch: int = 1000,
    *,
    first_sequence: int = 1,
    pace: QueuePace = SEED_PACE,
) -> ItemPlan:
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidItemRequest(f"quantity must be between 1 and {MAX_QUANTITY}, not {quantity}")
    if batch_size < 1 or max_jobs_per_batch < 1:
        raise InvalidItemRequest(f"batch_size ({batch_size}) and max_jobs_per_batch ({max_jobs_per_batch}) must be ≥ 1")
    per_job = max(batch_size, math.ceil(quantity / max_jobs_per_batch))
    jobs = [
        ItemJob(index, first_sequence + start, min(per_job, quantity - start))
        for index, start in enumerate(range(0, quantity, per_job))
    ]
    return ItemPlan(quantity, per_job, jobs, estimate_seconds(len(jobs), per_job, pace))


def estimate_seconds(jobs: int, items_per_job: int, pace: QueuePace) -> float:
    job_s = items_per_job * pace.seconds_per_item
    rate_bound = (jobs - 1) * pace.window_s / pace.jobs_per_window + job_s
    concurrency_bound = math.ceil(jobs / pace.concurrency) * job_s
    return max(rate_bound, concurrency_bound)


def describe_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} seconds"
    if seconds < 3600:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds / 3600:.1f} hours"
