"""Batches: callbacks exactly once, progress, adding to a running batch, cancel, list, prune and retry re-opening,
on the real Redis with real workers (in-process bursts, arq's own Worker, and killed worker processes)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

import queue_system.batches as batches_module
from queue_system import (
    Batch,
    BatchClosed,
    BatchError,
    BatchNotFound,
    BatchStatus,
    Client,
    JobCall,
    QueueAPI,
)
from tests.app.jobs import always_fails, batch_callback, echo, grows_batch, needs_fix, sleeper
from tests.support.processes import Spawn
from tests.support.queue_fixtures import recorded_runs, run_burst, run_cli, wait_for_runs
from tests.test_stock_arq import run_stock


def callbacks(queue: str | None = None) -> dict[str, JobCall]:
    handle = batch_callback.options(queue=queue) if queue else batch_callback.options()
    return {"then": handle.call("then"), "catch": handle.call("catch"), "finally_": handle.call("finally")}


async def fired(client: Client, batch: Batch) -> Counter[str]:
    """How often each callback ran for this batch."""
    runs = await recorded_runs(client, "batch_callback")
    return Counter(r["args"][0] for r in runs if r["args"][1] == batch.batch_id)


async def drain(settings: type) -> None:
    """Burst until the queues stay empty (a callback is enqueued by the last job's finish)."""
    await run_burst(settings)
    await run_burst(settings)


async def test_then_and_finally_fire_once_when_every_job_succeeds(client: Client, app_settings: type) -> None:
    batch = await Batch.create(
        "five echoes", [echo.call(i) for i in range(5)], **callbacks(), tags={"event_id": 7}, client=client
    )
    progress = await batch.progress()
    assert (progress.total, progress.pending, progress.percentage) == (5, 5, 0.0)
    await drain(app_settings)
    await drain(app_settings)  # nothing fires twice, whatever runs later
    assert await fired(client, batch) == Counter({"then": 1, "finally": 1})
    info = await batch.info()
    assert info.status is BatchStatus.COMPLETED and info.finished and info.fired == ("then",)
    assert info.progress.to_dict() == {
        "total": 5,
        "pending": 0,
        "completed": 5,
        "failed": 0,
        "cancelled": 0,
        "percentage": 100.0,
    }
    api = QueueAPI(client)
    stats = await api.stats("alpha", tag={"batch": batch.batch_id})
    assert stats[0].counts.completed == 5  # the batch tag makes the per-tag counts work per batch
    finished = [e.data async for e in api.events(last=50) if e.event == "batch_finished"]
    assert finished == [{"batch": batch.batch_id, "status": "completed", "run": "1"}]


async def test_catch_fires_once_on_the_first_failure_and_the_batch_fails(client: Client, app_settings: type) -> None:
    jobs = [always_fails.call("a"), always_fails.call("b"), *(echo.call(i) for i in range(3))]
    batch = await Batch.create("two fail", jobs, **callbacks(), client=client)
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"catch": 1, "finally": 1})
    info = await batch.info()
    assert info.status is BatchStatus.FAILED
    assert (info.progress.completed, info.progress.failed, info.progress.pending) == (3, 2, 0)
    assert len(await QueueAPI(client).batch_jobs(batch.batch_id, "failed")) == 2


async def test_allowed_failures_fire_then_and_no_catch(client: Client, app_settings: type) -> None:
    jobs = [always_fails.call("a"), echo.call(1)]
    batch = await Batch.create("tolerant", jobs, **callbacks(), allow_failures=True, client=client)
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"then": 1, "finally": 1})
    assert (await batch.info()).status is BatchStatus.COMPLETED


async def test_jobs_added_to_a_running_batch_are_counted_and_a_finished_batch_refuses_more(
    client: Client, app_settings: type
) -> None:
    batch = await Batch.create("growing", [echo.call(0)], **callbacks(), client=client)
    added = await batch.add([echo.call(1), echo.call(2)])
    assert [job.duplicate for job in added] == [False, False]
    assert (await batch.progress()).total == 3
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"then": 1, "finally": 1})
    assert (await batch.progress()).completed == 3
    with pytest.raises(BatchClosed):
        await (await Batch.open(batch.batch_id, client=client)).add([echo.call(3)])
    assert (await batch.progress()).total == 3


async def test_a_job_adds_to_its_own_batch(client: Client, app_settings: type) -> None:
    batch = await Batch.create("grown from inside", [grows_batch.call(2)], **callbacks(), client=client)
    await drain(app_settings)
    assert [r["args"][0] for r in await recorded_runs(client, "echo")] == ["added 0", "added 1"]
    assert (await batch.progress()).completed == 3
    assert await fired(client, batch) == Counter({"then": 1, "finally": 1})


async def test_a_batch_written_in_several_calls_cannot_finish_before_the_last(
    client: Client, app_settings: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches_module, "BATCH_CHUNK", 2)
    calls: list[tuple[bool, bool]] = []
    real_call = Batch._call

    async def spy(self: Batch, chunk: Any, create: Any, hold: bool, release: bool) -> list[int]:
        calls.append((hold, release))
        if len(calls) == 2:  # between the writer's calls, the jobs written so far all end
            await drain(app_settings)
            assert (await self.info()).status is BatchStatus.RUNNING  # held open: not finished, nothing fired
            assert await fired(client, self) == Counter()
        return await real_call(self, chunk, create, hold, release)

    monkeypatch.setattr(Batch, "_call", spy)
    batch = await Batch.create("chunked", [echo.call(i) for i in range(5)], **callbacks(), client=client)
    assert calls == [(True, False), (False, False), (False, True)]
    assert (await batch.progress()).total == 5
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"then": 1, "finally": 1})
    assert (await batch.info()).progress.completed == 5


async def test_cancel_ends_a_batch_whose_writer_died_between_two_calls(client: Client, app_settings: type) -> None:
    batch = Batch(client, "orphan")
    batch._tags = {}
    await batch._call([], {"name": "orphan", "allow_failures": "0", "tags": "{}"}, True, False)  # the first call
    await batch.add([echo.call(1)])
    await drain(app_settings)
    assert (await batch.info()).status is BatchStatus.RUNNING  # still held by the writer that never came back
    assert await batch.cancel() == 0
    info = await batch.info()
    assert info.status is BatchStatus.CANCELLED and info.finished and info.progress.completed == 1


async def test_an_empty_batch_finishes_at_once(client: Client, app_settings: type) -> None:
    batch = await Batch.create("empty", [], **callbacks(), client=client)
    assert (await batch.info()).status is BatchStatus.COMPLETED
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"then": 1, "finally": 1})


async def test_bad_batches_are_refused_with_nothing_written(client: Client) -> None:
    with pytest.raises(BatchError, match="batch_id"):
        await Batch.create("bad callback", [echo.call(1)], then=echo.call(2), client=client)
    with pytest.raises(BatchError, match="set by the batch"):
        await Batch.create("bad tag", [echo.call(1)], tags={"batch": "x"}, client=client)
    await Batch.create("mine", [echo.call(1)], batch_id="fixed", client=client)
    with pytest.raises(BatchError, match="taken"):
        await Batch.create("again", [echo.call(2)], batch_id="fixed", client=client)
    with pytest.raises(BatchError, match="invalid batch id"):
        await Batch.create("bad id", [echo.call(3)], batch_id="a:b", client=client)
    with pytest.raises(BatchNotFound):
        await Batch.open("nope", client=client)
    assert await client.queue_size("alpha") == 1
    assert (await QueueAPI(client).batches()).total == 1


async def test_retrying_failed_jobs_reopens_the_batch_and_then_fires(client: Client, app_settings: type) -> None:
    jobs = [needs_fix.call("test:gate"), echo.call(1)]
    batch = await Batch.create("retried", jobs, **callbacks(), client=client)
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"catch": 1, "finally": 1})
    assert (await batch.info()).status is BatchStatus.FAILED

    await client.redis.set("test:gate", "1")
    assert await batch.retry_failed() == 1
    info = await batch.info()
    assert (info.status, info.run, info.finished) == (BatchStatus.RUNNING, 2, False)
    assert (info.progress.pending, info.progress.failed, info.progress.completed) == (1, 0, 1)
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"catch": 1, "then": 1, "finally": 2})  # finally once per run
    info = await batch.info()
    assert info.status is BatchStatus.COMPLETED and info.progress.completed == 2


async def test_cancel_removes_queued_jobs_and_only_finally_fires(client: Client, app_settings: type) -> None:
    batch = await Batch.create("cancelled", [echo.call(i) for i in range(4)], **callbacks(), client=client)
    assert await batch.cancel() == 4
    assert await batch.cancel() == 0  # already cancelled: nothing changes
    info = await batch.info()
    assert info.status is BatchStatus.CANCELLED and info.finished and info.progress.cancelled == 4
    assert await client.queue_size("alpha") == 0
    with pytest.raises(BatchClosed):
        await batch.add([echo.call(9)])
    await drain(app_settings)
    assert await recorded_runs(client, "echo") == []
    assert await fired(client, batch) == Counter({"finally": 1})


async def test_cleaning_a_batchs_waiting_jobs_counts_them_as_cancelled(client: Client, app_settings: type) -> None:
    batch = await Batch.create("cleaned", [echo.call(i) for i in range(3)], **callbacks(), client=client)
    assert await QueueAPI(client).clean("alpha", "waiting") == 3
    info = await batch.info()
    assert (info.status, info.progress.cancelled, info.progress.pending) == (BatchStatus.FAILED, 3, 0)
    await drain(app_settings)
    assert await fired(client, batch) == Counter({"finally": 1})


async def test_prune_deletes_only_batches_finished_long_enough_ago(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    done = await Batch.create("done", [echo.call(1)], client=client)
    await drain(app_settings)
    running = await Batch.create("running", [echo.call(2)], client=client)
    assert await api.prune_batches(3600) == 0
    assert await api.prune_batches(0) == 1
    with pytest.raises(BatchNotFound):
        await api.batch(done.batch_id)
    assert [b.batch_id for b in (await api.batches()).batches] == [running.batch_id]


async def test_callbacks_fire_under_arqs_own_worker(client: Client, app_settings: type) -> None:
    jobs = [echo.call(1), always_fails.call("x")]
    batch = await Batch.create("stock", jobs, **callbacks(queue="alpha"), client=client)
    await run_stock(app_settings, poll_delay=0.01)
    await run_stock(app_settings, poll_delay=0.01)
    assert await fired(client, batch) == Counter({"catch": 1, "finally": 1})
    assert (await batch.info()).status is BatchStatus.FAILED


def cli_json(redis_url: str, *args: str) -> Any:
    done = run_cli(*args, "--json", redis_url=redis_url)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def test_cli_lists_shows_cancels_and_prunes(client: Client, redis_url: str) -> None:
    batch = await Batch.create("cli batch", [echo.call(i) for i in range(3)], client=client)
    listed = cli_json(redis_url, "batches")
    assert listed["total"] == 1 and listed["batches"][0]["name"] == "cli batch"
    shown = cli_json(redis_url, "batch", batch.batch_id)
    assert shown["progress"]["pending"] == 3 and shown["status"] == "running"
    assert cli_json(redis_url, "batch", "cancel", batch.batch_id)["removed"] == 3
    assert cli_json(redis_url, "batches", "prune", "--hours", "0")["pruned"] == 1
    missing = run_cli("batch", batch.batch_id, redis_url=redis_url)
    assert missing.returncode == 3 and "no batch" in missing.stderr


@pytest.mark.slow
async def test_callbacks_fire_exactly_once_with_a_worker_killed_mid_batch(client: Client, spawn: Spawn) -> None:
    ok = await Batch.create("survives", [sleeper.call(0.4, str(i)) for i in range(24)], **callbacks(), client=client)
    bad = await Batch.create("fails", [always_fails.call("k"), echo.call(1)], **callbacks(), client=client)
    first = spawn("w0", QS_LEASE_S="2")
    await wait_for_runs(client, "sleeper", 4)  # only w0 runs yet: it holds 4 of the batch's jobs
    spawn("w1", QS_LEASE_S="2")
    spawn("w2", QS_LEASE_S="2")
    await wait_for_runs(client, "sleeper", 8)  # 16 still queued, so w0's 4 slots are full
    first.kill()  # SIGKILL mid-batch: its jobs' leases expire and they run again elsewhere
    await wait_for_runs(client, "batch_callback", 4, timeout=30)
    await asyncio.sleep(1)  # time for a duplicate callback to show up, if one were enqueued
    runs = await recorded_runs(client, "sleeper")
    done = await recorded_runs(client, "sleeper-done")
    assert len(runs) > len(done) >= 24  # some attempts died with the worker and ran again
    assert (await ok.info()).progress.completed == 24
    assert await fired(client, ok) == Counter({"then": 1, "finally": 1})
    assert await fired(client, bad) == Counter({"catch": 1, "finally": 1})
