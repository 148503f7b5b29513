"""The read API: a job by id with everything about it, listings by state (newest first, paged, filtered by function
and tag), progress and job logs while a job runs and after, and the event stream."""

from __future__ import annotations

import asyncio
import time

import pytest

from queue_system import Client, JobNotFound, JobRequest, JobState, QueueAPI, QueueConfig, UnknownState
from queue_system.keys import queue_key
from queue_system.progress import JobReporter
from tests.support.queue_fixtures import run_burst


async def wait_for_state(api: QueueAPI, job_id: str, state: JobState, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (await api.job(job_id)).state is not state:
        assert time.monotonic() < deadline, f"{job_id} never became {state}"
        await asyncio.sleep(0.01)


async def test_job_shows_state_times_tries_and_result_or_error(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    for spec in app_settings.qs_specs:  # as a producer that imports the jobs knows them (and which are sensitive)
        client.register(spec.name, spec.info)
    ok = await client.enqueue_job("flaky", 2, _queue="alpha", _priority="high", _tags={"event_id": 5})
    bad = await client.enqueue_job("always_fails", "x", _queue="alpha")
    later = await client.enqueue_job("echo", "later", _queue="alpha", _defer_by=60)
    waiting = await api.job(ok.job_id)
    assert (waiting.state, waiting.function, waiting.queue, waiting.priority) == (
        JobState.WAITING,
        "flaky",
        "alpha",
        "high",
    )
    assert waiting.tags == {"event_id": "5"} and waiting.args == [2] and waiting.tries == 0
    delayed = await api.job(later.job_id)
    assert delayed.state is JobState.DELAYED and delayed.due_at_ms is not None
    assert delayed.due_at_ms - (delayed.enqueued_at_ms or 0) == pytest.approx(60_000, abs=50)
    await api.abort(later.job_id)
    await run_burst(app_settings)

    done = await api.job(ok.job_id)
    assert done.state is JobState.COMPLETED and done.result == "ok on try 2" and done.tries == 2
    assert done.error == "ConnectionError: transient failure on try 1"  # the last error before it succeeded
    assert done.enqueued_at_ms and done.started_at_ms and done.finished_at_ms
    assert done.enqueued_at_ms <= done.started_at_ms <= done.finished_at_ms
    failed = await api.job(bad.job_id)
    assert failed.state is JobState.FAILED and failed.tries == 2 and failed.result is None
    assert failed.error == "ValueError: always fails x"
    assert (
        failed.failure and failed.failure["reason"] == "tries exhausted" and "Traceback" in failed.failure["traceback"]
    )
    with pytest.raises(JobNotFound):
        await api.job("no-such-job")


async def test_sensitive_arguments_and_results_are_redacted(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    job = await client.enqueue_job("secret_job", "4111111111111111", _queue="alpha")
    assert (await api.job(job.job_id)).args == "<redacted>"
    await run_burst(app_settings)
    info = await api.job(job.job_id)
    assert info.state is JobState.COMPLETED and info.result == "<redacted>" and info.args == "<redacted>"
    assert "4111111111111111" not in str(info.to_dict())


async def test_listing_is_newest_first_paged_and_filtered(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    ids = []
    for i in range(12):
        tags = {"batch": "a" if i % 2 else "b"}
        job = await client.enqueue_job("echo" if i % 3 else "on_beta", i, _queue="alpha", _tags=tags)
        ids.append(job.job_id)
    waiting = await api.jobs("alpha", "waiting", limit=5)
    assert [j.job_id for j in waiting.jobs] == ids[::-1][:5] and waiting.total == 12 and waiting.more
    await run_burst(app_settings)
    await asyncio.sleep(0.002)
    page = await api.jobs("alpha", "completed", offset=2, limit=4)
    finished = [j.finished_at_ms or 0 for j in (await api.jobs("alpha", "completed", limit=12)).jobs]
    assert finished == sorted(finished, reverse=True)
    assert page.total == 12 and page.more and len(page.jobs) == 4
    by_function = await api.jobs("alpha", "completed", function="on_beta", limit=50)
    assert {j.job_id for j in by_function.jobs} == {ids[i] for i in range(0, 12, 3)}
    assert by_function.total == 4 and not by_function.more
    by_tag = await api.jobs("alpha", "completed", tag="batch=a")
    assert {j.job_id for j in by_tag.jobs} == set(ids[1::2]) and by_tag.total == 6
    both = await api.jobs("alpha", "completed", function="echo", tag=("batch", "b"))
    assert {j.job_id for j in both.jobs} == {ids[i] for i in range(0, 12, 2) if i % 3} and both.total == 4
    both_paged = await api.jobs("alpha", "completed", function="echo", tag=("batch", "b"), offset=1, limit=2)
    assert [j.job_id for j in both_paged.jobs] == [j.job_id for j in both.jobs][1:3] and both_paged.more
    assert (await api.counts("alpha", function="on_beta")).completed == 4
    assert (await api.jobs("alpha", "failed")).jobs == []
    with pytest.raises(UnknownState):
        await api.jobs("alpha", "finished")


async def test_a_rare_match_deep_in_a_big_queue_is_found_by_its_index(client: Client) -> None:
    """15 000 newer jobs sit in front of the one match: a filtered page reads its index, not a window of the queue,
    so it finds it at once with an exact total (a bounded scan of 10 000 entries would not)."""
    api = QueueAPI(client)
    rare = await client.enqueue_job("on_beta", 0, _queue="alpha", _tags={"shop": "rare"})
    deferred = await client.enqueue_job("on_beta", 1, _queue="alpha", _defer_by=3600, _tags={"shop": "rare"})
    newer = [JobRequest("echo", (i,), queue="alpha", tags={"shop": str(i % 3)}) for i in range(15_000)]
    await client.enqueue_many(newer)
    for page in (
        await api.jobs("alpha", "waiting", function="on_beta"),
        await api.jobs("alpha", "waiting", tag="shop=rare"),
        await api.jobs("alpha", "waiting", function="on_beta", tag="shop=rare"),
    ):
        assert [j.job_id for j in page.jobs] == [rare.job_id] and page.total == 1 and not page.more
    both = await api.jobs("alpha", "waiting", function="echo", tag="shop=1", offset=4_990, limit=20)
    assert both.total == 5_000 and len(both.jobs) == 10 and not both.more
    delayed = await api.deferred("alpha", tag="shop=rare")
    assert [j.job_id for j in delayed.jobs] == [deferred.job_id] and delayed.total == 1
    searched = await api.search("alpha", "waiting", "", function="on_beta")
    assert [j.job_id for j in searched.jobs] == [rare.job_id] and searched.search_space == 1


async def test_waiting_listing_leaves_out_running_jobs(client: Client, config: QueueConfig, app_settings: type) -> None:
    api = QueueAPI(client)
    running = await client.enqueue_job("reports", 0, gate="test:gate", _queue="alpha")
    queued = await client.enqueue_job("echo", 1, _queue="beta")
    task = asyncio.create_task(run_burst(app_settings, queues=["alpha"]))
    await wait_for_state(api, running.job_id, JobState.ACTIVE)
    assert (await api.jobs("alpha", "waiting")).jobs == []
    active = await api.jobs("alpha", "active")
    assert [j.job_id for j in active.jobs] == [running.job_id] and active.total == 1
    assert [j.job_id for j in (await api.jobs("beta", "waiting")).jobs] == [queued.job_id]
    await client.redis.set("test:gate", 1)
    await asyncio.wait_for(task, 10)


async def test_progress_and_logs_are_readable_while_running_and_after(
    client: Client, config: QueueConfig, app_settings: type
) -> None:
    api = QueueAPI(client)
    job = await client.enqueue_job("reports", 250, gate="test:gate", _queue="alpha", _tags={"batch": "7"})
    task = asyncio.create_task(run_burst(app_settings))
    deadline = time.monotonic() + 10
    while (info := await api.job(job.job_id)).progress != 50:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert info.state is JobState.ACTIVE and info.progress_message == "half way"
    assert len(info.logs) == 200 and info.logs[0].message == "line 51" and info.logs[-1].message == "line 250"
    await client.redis.set("test:gate", 1)
    await asyncio.wait_for(task, 10)

    after = await api.job(job.job_id)
    assert after.state is JobState.COMPLETED and after.progress == 100 and after.progress_message == "done"
    assert after.logs[-1].message == "finished" and len(after.logs) == 200
    assert after.logs[-1].at_ms >= after.logs[0].at_ms > 0
    assert [line.message for line in await api.logs(job.job_id, last=2)] == ["line 250", "finished"]
    progress = [e for e in [e async for e in api.events(last=50)] if e.event == "progress"]
    assert [(e.data["progress"], e.data["message"]) for e in progress] == [("50", "half way"), ("100", "done")]
    assert progress[0].tags == {"batch": "7"} and progress[0].function == "reports"


async def test_a_stale_attempt_cannot_report(client: Client, app_settings: type) -> None:
    job = await client.enqueue_job("echo", 1, _queue="alpha")
    stale = JobReporter(client.redis, client.scripts, client.config, job.job_id, "someone-else")
    assert await stale.progress(10) is False  # not active
    await run_burst(app_settings)
    assert await stale.log("late") is False
    assert (await QueueAPI(client).job(job.job_id)).logs == []


async def test_a_plain_arq_job_is_recorded_when_it_is_promoted(client: Client, app_settings: type) -> None:
    """A producer with only arq writes no record; the promote step creates it, so counts include the job."""
    api = QueueAPI(client)
    payload = b'{"t": null, "f": "echo", "a": ["plain"], "k": {}, "et": 1}'
    await client.redis.set("arq:job:plain", payload)
    await client.redis.zadd(queue_key("alpha"), {"plain": int(time.time() * 1000)})
    assert (await api.job("plain")).state is JobState.WAITING  # derived: no record yet
    await run_burst(app_settings)
    info = await api.job("plain")
    assert info.state is JobState.COMPLETED and info.function == "echo" and info.result == "plain"
    assert (await api.counts("alpha")).completed == 1


async def test_a_failed_job_retried_from_the_failed_store_is_counted_again(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    job = await client.enqueue_job("always_fails", "once", _queue="alpha", _tags={"event_id": 3})
    await run_burst(app_settings)
    assert (await api.counts("alpha", "event_id=3")).failed == 1
    await client.retry_failed(job.job_id)
    counts = await api.counts("alpha", "event_id=3")
    assert (counts.failed, counts.waiting) == (0, 1)
    info = await api.job(job.job_id)
    assert info.state is JobState.WAITING and info.tries == 0 and info.error is None
    await run_burst(app_settings)
    (stats,) = await api.stats("alpha", tag="event_id=3")
    assert stats.counts.failed == 1 and stats.totals.failed == 2  # failed again: two outcomes, one record
