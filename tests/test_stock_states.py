"""Job states under arq's own Worker (``arq settings.WorkerSettings``): the runner records each start and end
(lua/transition.lua), so counts, records, progress, pause and queued aborts work there too."""

from __future__ import annotations

import asyncio

from arq.worker import Worker, get_kwargs

from queue_system import Client, JobRequest, JobState, QueueAPI
from tests.support.indexes import assert_indexes_exact
from tests.support.queue_fixtures import recorded_runs
from tests.support.states import assert_exact, snapshot


async def run_stock(settings: type, **overrides: object) -> None:
    worker = Worker(**{**get_kwargs(settings), "burst": True, "handle_signals": False, "poll_delay": 0.01, **overrides})
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def test_counts_and_records_follow_jobs_run_by_arqs_worker(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    requests = [
        JobRequest("echo", (1,), queue="alpha", job_id="ok", tags={"event_id": "1"}),
        JobRequest("flaky", (2,), queue="alpha", job_id="flaky", tags={"event_id": "1"}),
        JobRequest("always_fails", ("x",), queue="alpha", job_id="bad"),
        JobRequest("reports", (3,), queue="alpha", job_id="reports"),
        JobRequest("echo", (2,), queue="alpha", job_id="later", defer_by=0.2),
        JobRequest("echo", (3,), queue="alpha", job_id="dropped"),
    ]
    await client.enqueue_many(requests)
    assert (await api.abort("dropped")).outcome == "aborted"
    await run_stock(app_settings)
    queue_of = {r.job_id or "": "alpha" for r in requests}
    tags_of = {r.job_id or "": dict(r.tags) for r in requests}
    snap = await snapshot(client, queue_of, tags_of, ["alpha"])
    assert_exact(snap, queue_of, tags_of)
    await assert_indexes_exact(client, list(queue_of))  # transition.lua keeps the function and tag indexes too
    assert snap.truth == {
        "ok": "completed",
        "flaky": "completed",
        "bad": "failed",
        "reports": "completed",
        "later": "completed",
        "dropped": "aborted",
    }
    reported = await api.job("reports")
    assert reported.progress == 100 and [line.message for line in reported.logs][-1] == "finished"
    flaky = await api.job("flaky")
    assert flaky.tries == 2 and flaky.error and flaky.error.startswith("ConnectionError")
    assert {"retrying", "completed", "failed", "progress"} <= {e.event async for e in api.events(last=100)}


async def test_arqs_worker_gives_back_a_paused_queues_job_untried(client: Client, app_settings: type) -> None:
    api = QueueAPI(client)
    job = await client.enqueue_job("echo", "held", _queue="alpha")
    await api.pause("alpha")
    task = asyncio.create_task(run_stock(app_settings))
    await asyncio.sleep(0.3)
    assert await recorded_runs(client, "echo") == []
    info = await api.job(job.job_id)
    assert info.state is JobState.WAITING and await client.redis.get(f"arq:retry:{job.job_id}") == b"0"
    await api.resume("alpha")
    await asyncio.wait_for(task, 10)
    assert await job.result(timeout=1) == "held"
    assert (await api.job(job.job_id)).tries == 1
