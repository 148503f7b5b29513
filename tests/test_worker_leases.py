"""Leases, fencing and the crash budget, with real worker processes killed, stopped and resumed for real."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from queue_system import Client
from tests.support.processes import Spawn
from tests.support.queue_fixtures import recorded_runs, wait_for_runs

pytestmark = pytest.mark.slow


@pytest.fixture
def spawn_env() -> dict[str, str]:
    return {"QS_LEASE_S": "2"}  # short leases keep the fault tests quick


async def test_a_killed_workers_job_runs_again_within_one_lease(client: Client, spawn: Spawn) -> None:
    # The worker also declares hour_long (timeout 3600 s): arq would keep this job stuck for an hour.
    job = await client.enqueue_job("sleeper", 1.0, "k", _queue="alpha")
    first = spawn("first")
    await wait_for_runs(client, "sleeper", 1)
    first.kill()
    killed_at = time.time()
    spawn("second")
    runs = await wait_for_runs(client, "sleeper", 2)
    assert [r["try"] for r in runs] == [1, 2]  # the lost attempt counted as a try
    assert runs[1]["t"] - killed_at < 2.0 + 1.5  # one lease (2 s) plus worker start-up
    assert await job.result(timeout=10) == "k"


async def test_a_healthy_job_ten_times_longer_than_its_lease_runs_once(client: Client, spawn: Spawn) -> None:
    job = await client.enqueue_job("sleeper", 10.0, "long", _queue="alpha")
    spawn("runner", QS_LEASE_S="1")
    await wait_for_runs(client, "sleeper", 1)
    spawn("poller", QS_LEASE_S="1")
    assert await job.result(timeout=20) == "long"
    assert len(await recorded_runs(client, "sleeper")) == 1


async def test_a_worker_that_lost_its_lease_cannot_record_an_outcome(client: Client, spawn: Spawn) -> None:
    job = await client.enqueue_job("sleeper", 2.0, "fenced", _queue="alpha")
    stalled = spawn("stalled", QS_LEASE_S="1")
    await wait_for_runs(client, "sleeper", 1)
    stalled.signal(signal.SIGSTOP)  # frozen: no renewals, the lease runs out
    spawn("successor", QS_LEASE_S="1")
    runs = await wait_for_runs(client, "sleeper", 2)
    assert runs[1]["try"] == 2
    stalled.signal(signal.SIGCONT)
    assert await job.result(timeout=15) == "fenced"
    stalled.wait_for_event("job.outcome_discarded", timeout=15)
    info = await client.job(job.job_id, "alpha")._arq.result_info()
    assert info is not None and info.job_try == 2  # the newer attempt's outcome stands


async def test_a_job_that_keeps_killing_its_worker_ends_as_worker_lost(client: Client, spawn: Spawn) -> None:
    job = await client.enqueue_job("crasher", _queue="alpha")
    for attempt in range(4):
        worker = spawn(f"w{attempt}", QS_LEASE_S="1")
        deadline = time.monotonic() + 15
        while worker.process.poll() is None and time.monotonic() < deadline:
            if await client.failed.count():
                break
            await asyncio.sleep(0.05)
        worker.stop()
        if await client.failed.count():
            break
    entry = await client.failed.get(job.job_id)
    assert entry.reason == "worker lost"
    assert len(await recorded_runs(client, "crasher")) == 3  # the default crash budget


async def test_sigterm_finishes_short_jobs_and_gives_back_long_ones_untried(client: Client, spawn: Spawn) -> None:
    short = await client.enqueue_job("sleeper", 0.5, "short", _queue="alpha")
    long = await client.enqueue_job("sleeper", 60.0, "long", _queue="alpha")
    worker = spawn("graceful", QS_SHUTDOWN_GRACE_S="2")
    await wait_for_runs(client, "sleeper", 2)
    worker.signal(signal.SIGTERM)
    signalled = time.monotonic()
    worker.assert_exits(0, timeout=2 + 5)
    assert time.monotonic() - signalled < 2 + 5
    assert await short.result(timeout=1) == "short"
    assert await client.redis.get(f"arq:retry:{long.job_id}") == b"0"  # its try was given back
    assert await client.redis.exists(f"arq:in-progress:{long.job_id}") == 0
    assert await client.queue_size("alpha") == 1


async def test_a_second_signal_shortens_the_grace_period(client: Client, spawn: Spawn) -> None:
    await client.enqueue_job("sleeper", 60.0, "long", _queue="alpha")
    worker = spawn("impatient", QS_SHUTDOWN_GRACE_S="60")
    await wait_for_runs(client, "sleeper", 1)
    worker.signal(signal.SIGTERM)
    worker.wait_for_event("worker.stopping")
    worker.signal(signal.SIGINT)
    started = time.monotonic()
    worker.assert_exits(0, timeout=10)
    assert time.monotonic() - started < 5


async def test_a_worker_exits_within_grace_plus_five_seconds_even_when_a_job_blocks(
    client: Client, spawn: Spawn
) -> None:
    await client.enqueue_job("blocks_the_loop", 60.0, _queue="alpha")
    worker = spawn("blocked", QS_SHUTDOWN_GRACE_S="1")
    await wait_for_runs(client, "blocks_the_loop", 1)
    worker.signal(signal.SIGTERM)
    signalled = time.monotonic()
    worker.assert_exits(1, timeout=15)  # forced
    assert time.monotonic() - signalled < 1 + 5
