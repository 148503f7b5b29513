"""Counts stay exact: after a burst of 5 000 mixed jobs (successes, retries, failures, deferred jobs, aborts)
run by two worker processes, one of them SIGKILLed mid-run, every counter, tag counter, index and job record
agrees with the true job states derived from arq's own keys (tests/support/states.py) -- once right after the
kill, while the dead worker's jobs are still active, and again after everything has ended."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from queue_system import Client, JobRequest, QueueAPI
from tests.support.processes import WorkerProcess
from tests.support.states import assert_exact, snapshot

pytestmark = pytest.mark.slow
TOTAL = 5000
QUEUES = ["alpha", "beta"]


def mixed_jobs() -> tuple[list[JobRequest], dict[str, str]]:
    """5 000 jobs (and what each must end as): alpha and beta, tagged and not, instant, flaky, failing, deferred,
    and a few slow ones so the killed worker holds running jobs."""
    requests: list[JobRequest] = []
    expected: dict[str, str] = {}
    for i in range(TOTAL):
        job_id = f"j{i}"
        tags = {"batch": str(i % 3)} if i % 2 == 0 else {}
        kind = i % 10
        if i % 250 == 7:
            request, outcome = JobRequest("sleeper", (1.5, job_id), queue="alpha"), "completed"
        elif kind in (0, 1, 2, 3):
            request, outcome = JobRequest("echo", (i,), queue="alpha"), "completed"
        elif kind == 4:
            request, outcome = JobRequest("always_fails", (job_id,), queue="alpha"), "failed"
        elif kind == 5:
            request, outcome = JobRequest("flaky", (2,), queue="alpha"), "completed"
        elif kind == 6:
            request, outcome = JobRequest("on_beta", (i,), queue="beta"), "completed"
        elif kind == 7:
            request, outcome = JobRequest("fails_permanently", ("key",), queue="beta"), "failed"
        elif kind == 8:  # deferred, due during the run
            request, outcome = JobRequest("echo", (i,), queue="alpha", defer_by=0.5), "completed"
        else:  # deferred beyond the test: delayed throughout
            request, outcome = JobRequest("echo", (i,), queue="alpha", defer_by=600), "delayed"
        requests.append(
            JobRequest(
                request.function, request.args, queue=request.queue, defer_by=request.defer_by, job_id=job_id, tags=tags
            )
        )
        expected[job_id] = outcome
    return requests, expected


async def wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_counts_match_true_states_after_5000_mixed_jobs_and_a_killed_worker(
    client: Client, redis_url: str, tmp_path: Path
) -> None:
    api = QueueAPI(client)
    requests, expected = mixed_jobs()
    queue_of = {r.job_id or "": r.queue or "" for r in requests}
    tags_of = {r.job_id or "": dict(r.tags) for r in requests}
    await client.enqueue_many(requests)
    # Abort 50 queued jobs before any worker runs: they must end (and be counted) as aborted.
    for i in range(0, 500, 10):
        result = await api.abort(f"j{i}")
        assert result.outcome == "aborted"
        expected[f"j{i}"] = "aborted"
    assert_exact(await snapshot(client, queue_of, tags_of, QUEUES), queue_of, tags_of)

    env = {"QS_LEASE_S": "3"}
    doomed = WorkerProcess(redis_url, tmp_path, "doomed", "-c", "40", **env)
    survivor = WorkerProcess(redis_url, tmp_path, "survivor", "-c", "40", **env)
    try:

        async def enough_done() -> bool:
            stats = await api.stats("alpha")
            return stats[0].totals.completed >= 1200

        await wait_until(enough_done, 60, "1 200 completed jobs")
        doomed.kill()  # its running jobs stay active (lease 3 s) until the survivor takes them over
        mid = await snapshot(client, queue_of, tags_of, QUEUES)
        assert_exact(mid, queue_of, tags_of)
        mid_states = Counter(mid.truth.values())
        assert mid_states["active"] > 0, "the killed worker held no running job"
        assert mid_states["delayed"] > 0 and mid_states["waiting"] > 0, mid_states

        async def all_ended() -> bool:
            stats = await api.stats()
            ended = sum(s.totals.completed + s.totals.failed + s.totals.aborted for s in stats)
            return ended >= TOTAL - Counter(expected.values())["delayed"]

        await wait_until(all_ended, 90, "every job to end")
        final = await snapshot(client, queue_of, tags_of, QUEUES)
        assert_exact(final, queue_of, tags_of)
    finally:
        doomed.stop()
        survivor.stop()

    # Every job ended as it should, exactly once: the totals count outcomes (retention trimmed the records of
    # all but the last 1 000 completed jobs of a queue: their results went with them, so they read as "gone").
    outcomes = Counter(expected.values())
    stats = {s.queue: s for s in await api.stats()}
    assert sum(s.totals.completed for s in stats.values()) == outcomes["completed"]
    assert sum(s.totals.failed for s in stats.values()) == outcomes["failed"]
    assert sum(s.totals.aborted for s in stats.values()) == outcomes["aborted"]
    assert stats["alpha"].counts.delayed == outcomes["delayed"]
    for job_id, state in final.truth.items():
        assert state in (expected[job_id], "gone"), (job_id, state, expected[job_id])
    assert all(s.counts.completed <= 1000 for s in stats.values())
    assert not [job_id for job_id, state in final.truth.items() if state == "gone" and expected[job_id] != "completed"]
