"""Scheduling with real worker processes on the real Redis: a one-second cron across four workers (one of them
paused with SIGSTOP past ticks), start-up recovery once when workers start together, a condition schedule's
cooldown across processes, and reschedule/cancel racing a worker that is about to pick the job."""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from queue_system import Client, Condition, JobAlreadyStarted, JobNotFound, JobState, QueueAPI
from tests.app.jobs import ALL
from tests.support.processes import Spawn, WorkerProcess
from tests.support.queue_fixtures import recorded_runs

pytestmark = pytest.mark.slow
SCHED_SETTINGS = "tests.app.sched_settings.WorkerSettings"
APP_BLASTS = "test:app:blasts"  # the test app's own store (tests/app/sched_settings.py), read by its recovery hook


@pytest.fixture
def spawn_sched(redis_url: str, tmp_path: Path) -> Iterator[Spawn]:
    started: list[WorkerProcess] = []

    def start(name: str) -> WorkerProcess:
        worker = WorkerProcess(redis_url, tmp_path, name, settings=SCHED_SETTINGS)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def tick_of(job_id: str) -> int:
    return int(job_id.rsplit(":", 1)[1])


async def test_cron_each_tick_once_across_four_workers_with_one_paused(spawn_sched: Spawn, client: Client) -> None:
    api = QueueAPI(client)
    now_ms = int(time.time() * 1000)
    await client.redis.hset(APP_BLASTS, mapping={"b1": now_ms - 60_000, "b2": now_ms - 1000, "b3": now_ms + 3_600_000})
    await api.pause("beta")  # three jobs wait there: the condition below stays true
    for i in range(3):
        await client.enqueue_job("on_beta", i, _queue="beta")
    backlog = Condition(
        "beta-backlog", "echo", queue="beta", metric="waiting", threshold=2, cooldown_s=3, args=["backlog"],
        target_queue="alpha",
    )  # fmt: skip
    await api.put_schedule(backlog)

    workers = [spawn_sched(f"w{i}") for i in range(3)]  # three start together
    for worker in workers:
        worker.wait_for_event("worker.started", timeout=40)
    workers.append(spawn_sched("w3"))
    workers[3].wait_for_event("worker.started", timeout=40)
    started = time.time()
    await asyncio.sleep(3)
    workers[1].signal(signal.SIGSTOP)
    await asyncio.sleep(2.5)  # paused past two ticks
    workers[1].signal(signal.SIGCONT)
    await asyncio.sleep(4.5)
    ended = time.time()
    for worker in workers:
        worker.signal(signal.SIGTERM)
    for worker in workers:
        worker.assert_exits(0, timeout=20)

    ticks = sorted(tick_of(r["job_id"]) for r in await recorded_runs(client, "tick"))
    assert len(ticks) == len(set(ticks)), "a tick ran twice"
    assert all(b - a == 1000 for a, b in itertools.pairwise(ticks)), f"a tick is missing: {ticks}"
    in_window = [t for t in ticks if started * 1000 <= t <= ended * 1000]
    assert len(in_window) >= int(ended - started) - 1, (started, ended, ticks)
    # every claimed tick ("fired" counts claims) is a job under its tick's id, or still pending (claimed as the
    # workers stopped, for the next worker to enqueue): none lost, none claimed twice
    state = await api.schedule("tick")
    jobs: set[str] = set()
    for job_state in (JobState.WAITING, JobState.ACTIVE, JobState.COMPLETED):
        page = await api.jobs("alpha", job_state, tag=("schedule", "tick"), limit=500)
        jobs |= {job.job_id for job in page.jobs}
    assert set(ticks) <= {tick_of(j) for j in jobs}
    assert len(jobs | {f"sched:tick:{tick}" for tick in state.pending}) == state.fired

    recoveries = await recorded_runs(client, "recovery")
    assert len(recoveries) == 1, recoveries  # once, though four workers started
    blasts = sorted(r["args"][0] for r in await recorded_runs(client, "echo") if r["args"][0].startswith("blast"))
    assert blasts == ["blast b1", "blast b2"]

    fired = sorted(tick_of(r["job_id"]) for r in await recorded_runs(client, "echo") if r["args"] == ["backlog"])
    assert len(fired) >= 2
    assert all(b - a >= 3000 for a, b in itertools.pairwise(fired)), fired  # once per cooldown


async def test_reschedule_and_cancel_race_a_worker_about_to_pick_the_job(spawn: Spawn, client: Client) -> None:
    for handle in ALL:
        client.register(handle.name, handle.spec.info)
    api = QueueAPI(client)
    worker = spawn("w")
    worker.wait_for_event("worker.started", timeout=40)

    async def race(i: int) -> tuple[str, str, str]:
        due_at = time.time() + 0.3 + i * 0.02
        job = await client.enqueue_job("echo", f"race-{i}", _defer_until=datetime.fromtimestamp(due_at, UTC))
        # act within a few ms of the due time, when the worker's timer fires and it claims the job
        await asyncio.sleep(max(0.0, due_at + random.uniform(-0.05, 0.01) - time.time()))
        try:
            if i % 2:
                await api.cancel(job.job_id)
            else:
                await api.reschedule(job.job_id, defer_by=60)
        except JobAlreadyStarted:
            return job.job_id, f"race-{i}", "started"
        return job.job_id, f"race-{i}", "cancelled" if i % 2 else "rescheduled"

    outcomes = await asyncio.gather(*(race(i) for i in range(30)))
    await asyncio.sleep(1.0)
    runs = [r["args"][0] for r in await recorded_runs(client, "echo")]
    for job_id, value, outcome in outcomes:
        info = await api.job(job_id)
        if outcome == "started":
            assert runs.count(value) == 1 and info.state is JobState.COMPLETED
        else:
            assert runs.count(value) == 0, f"{value} was {outcome} but ran"
            expected = JobState.DELAYED if outcome == "rescheduled" else JobState.ABORTED
            assert info.state is expected
    assert {o for _, _, o in outcomes} & {"rescheduled", "cancelled"}, outcomes

    # the deferred listing: by queue and tag, soonest first
    later = await client.enqueue_job("echo", "later", _defer_by=120, _tags={"blast": "7"})
    sooner = await client.enqueue_job("echo", "sooner", _defer_by=90, _tags={"blast": "7"})
    page = await api.deferred("alpha", tag="blast=7")
    assert [j.job_id for j in page.jobs] == [sooner.job_id, later.job_id] and page.total == 2
    moved = await api.reschedule(later.job_id, defer_by=30)
    sooner_due = (await api.job(sooner.job_id)).due_at_ms
    assert moved.due_at_ms is not None and sooner_due is not None and moved.due_at_ms < sooner_due
    assert next(j.job_id for j in (await api.deferred("alpha", tag="blast=7")).jobs) == later.job_id
    done = [job_id for job_id, _, outcome in outcomes if outcome == "started"]
    for job_id in done[:1]:
        with pytest.raises(JobAlreadyStarted, match="completed"):
            await api.reschedule(job_id, defer_by=5)
    with pytest.raises(JobNotFound):
        await api.cancel("no-such-job")
