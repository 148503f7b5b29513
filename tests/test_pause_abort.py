"""Pause and resume (claims skip a paused queue; it survives a worker restart; resume runs in priority order) and
abort (queued jobs are removed, running ones cancelled within a second even with every slot busy, unknown ids
change nothing), against worker processes where it matters."""

from __future__ import annotations

import asyncio
import time

import pytest

from queue_system import Client, JobFailed, JobState, QueueAPI
from tests.support.processes import Spawn
from tests.support.queue_fixtures import recorded_runs, run_burst, wait_for_runs

# ---- pause and resume ----------------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_a_paused_queue_stays_paused_across_a_worker_restart_and_resumes_in_priority_order(
    client: Client, spawn: Spawn
) -> None:
    api = QueueAPI(client)
    assert await api.pause("alpha") is True
    assert await api.pause("alpha") is False  # already paused: nothing changes
    first = spawn("first", "-c", "1")
    first.wait_for_event("worker.started")
    for level in ["background", "low", "normal", "high", "critical"]:
        await client.enqueue_job("ordered", level, _queue="alpha", _priority=level)
    beta = await client.enqueue_job("on_beta", 1, _queue="beta")
    assert await beta.result(timeout=10) == 2  # the worker runs: only alpha is held back
    await asyncio.sleep(0.3)
    assert await recorded_runs(client, "ordered") == []
    (stats,) = await api.stats("alpha")
    assert stats.paused and stats.counts.waiting == 5

    first.kill()
    second = spawn("second", "-c", "1")
    second.wait_for_event("worker.started")
    await asyncio.sleep(0.5)
    assert await recorded_runs(client, "ordered") == []  # the pause lives in Redis, not in the worker
    assert await api.is_paused("alpha")

    assert await api.resume("alpha") is True
    runs = await wait_for_runs(client, "ordered", 5)
    assert [r["args"][0] for r in runs] == ["critical", "high", "normal", "low", "background"]
    assert not (await api.stats("alpha"))[0].paused
    kinds = [e.event for e in [e async for e in api.events(last=100)] if e.queue == "alpha"]
    assert "paused" in kinds and "resumed" in kinds


async def test_a_burst_worker_ends_with_jobs_left_in_a_paused_queue(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    await api.pause("beta")
    held = await client.enqueue_job("on_beta", 1, _queue="beta")
    done = await client.enqueue_job("echo", "x", _queue="alpha")
    await run_burst(app_settings)
    assert await done.result(timeout=1) == "x"
    assert (await api.job(held.job_id)).state is JobState.WAITING
    await api.resume("beta")
    await run_burst(app_settings)
    assert await held.result(timeout=1) == 2


# ---- abort ---------------------------------------------------------------------------------------------------------


async def test_aborting_queued_jobs_removes_them_and_counts_them_aborted(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    retrying = await client.enqueue_job("flaky", 3, _queue="alpha")
    await run_until_retrying_then_pause(api, app_settings, retrying.job_id)
    waiting = await client.enqueue_job("echo", "w", _queue="alpha", _tags={"event_id": 5})
    delayed = await client.enqueue_job("echo", "d", _queue="alpha", _defer_by=60)
    for job in (waiting, delayed, retrying):
        result = await api.abort(job.job_id)
        assert result.outcome == "aborted" and result.state is JobState.ABORTED
    again = await api.abort(waiting.job_id)
    assert again.outcome == "finished" and again.previous_state is JobState.ABORTED
    counts = await api.counts("alpha")
    assert (counts.waiting, counts.delayed, counts.retrying, counts.aborted) == (0, 0, 0, 3)
    assert (await api.counts("alpha", "event_id=5")).aborted == 1
    assert await client.queue_size("alpha") == 0
    assert await client.redis.exists(f"arq:job:{delayed.job_id}") == 0
    with pytest.raises(JobFailed, match="JobAborted"):
        await waiting.result(timeout=1)
    info = await api.job(retrying.job_id)
    assert info.state is JobState.ABORTED and info.tries == 1 and info.error and "JobAborted" in info.error
    events = [e async for e in api.events(last=50)]
    assert {e.job_id for e in events if e.event == "aborted"} == {waiting.job_id, delayed.job_id, retrying.job_id}


async def run_until_retrying_then_pause(api: QueueAPI, settings: type, job_id: str) -> None:
    """Run a burst worker until ``job_id`` waits for its retry (flaky(3) backs off 0.3 s), then pause its queue:
    the burst ends, and the job stays retrying."""
    task = asyncio.create_task(run_burst(settings))
    deadline = time.monotonic() + 10
    while (await api.job(job_id)).state is not JobState.RETRYING:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    await api.pause("alpha")
    await asyncio.wait_for(task, 10)


async def test_aborting_an_unknown_id_does_not_poison_that_id(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    result = await api.abort("later")
    assert result.outcome == "not_found" and result.previous_state is None
    job = await client.enqueue_job("echo", "fine", _queue="alpha", _job_id="later")
    await run_burst(app_settings)
    assert await job.result(timeout=1) == "fine"  # arq's abort would have cancelled it (python-arq/arq#485)
    assert (await api.abort("later")).outcome == "finished"


@pytest.mark.slow
async def test_a_running_job_is_cancelled_within_a_second_with_every_slot_busy(client: Client, spawn: Spawn) -> None:
    api = QueueAPI(client)
    target = await client.enqueue_job("sleeper", 30.0, "target", _queue="alpha", _tags={"event_id": 7})
    other = await client.enqueue_job("sleeper", 30.0, "other", _queue="alpha")
    worker = spawn("busy", "-c", "2")
    await wait_for_runs(client, "sleeper", 2)  # both slots busy
    started = time.monotonic()
    result = await api.abort(target.job_id, wait_s=5)
    elapsed = time.monotonic() - started
    assert result.outcome == "cancelling" and result.previous_state is JobState.ACTIVE
    assert result.state is JobState.ABORTED and elapsed < 1.0, (result, elapsed)
    with pytest.raises(JobFailed, match="JobAborted"):
        await target.result(timeout=1)
    assert (await api.job(other.job_id)).state is JobState.ACTIVE
    counts = await api.counts("alpha")
    assert (counts.active, counts.aborted) == (1, 1)
    assert (await api.counts("alpha", "event_id=7")).aborted == 1
    await asyncio.sleep(0.5)
    assert len(await recorded_runs(client, "sleeper")) == 2  # aborted, not re-queued: it never runs again
    assert worker.events("job.abort_requested")[0]["job_id"] == target.job_id


@pytest.mark.slow
async def test_an_abort_requested_while_its_worker_is_dead_ends_the_job_without_running_it(
    client: Client, spawn: Spawn
) -> None:
    api = QueueAPI(client)
    job = await client.enqueue_job("sleeper", 30.0, "orphan", _queue="alpha")
    first = spawn("first", QS_LEASE_S="1")
    await wait_for_runs(client, "sleeper", 1)
    first.kill()
    result = await api.abort(job.job_id)
    assert result.outcome == "cancelling"  # still active: its lease has not run out yet
    spawn("second", QS_LEASE_S="1")
    deadline = time.monotonic() + 15
    while (await api.job(job.job_id)).state is not JobState.ABORTED:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert len(await recorded_runs(client, "sleeper")) == 1
    assert (await api.counts("alpha")).aborted == 1
