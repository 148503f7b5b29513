"""Counts stay exact: after a burst of 5 000 mixed jobs (successes, retries, failures, deferred jobs, aborts,
removals, reschedules, promotions, retention trims) run by two worker processes, one of them SIGKILLed mid-run,
every counter, tag counter, index and job record agrees with the true job states derived from arq's own keys
(tests/support/states.py), and every state, function and tag index holds exactly the jobs whose record says so
(tests/support/indexes.py) -- before the workers start, right after the kill, while the dead worker's jobs are
still active, after everything has ended and after removing and cleaning finished jobs."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from queue_system import Client, JobRequest, QueueAPI
from tests.support.indexes import assert_indexes_exact
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
    await steer_before_running(api, expected)
    assert_exact(await snapshot(client, queue_of, tags_of, QUEUES), queue_of, tags_of)
    await assert_indexes_exact(client, list(queue_of))

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
        await assert_indexes_exact(client, list(queue_of))
        mid_states = Counter(mid.truth.values())
        assert mid_states["active"] > 0, "the killed worker held no running job"
        assert mid_states["delayed"] > 0 and mid_states["waiting"] > 0, mid_states

        async def all_ended() -> bool:
            stats = await api.stats()
            ended = sum(s.totals.completed + s.totals.failed + s.totals.aborted for s in stats)
            never = Counter(expected.values())
            return ended >= TOTAL - never["delayed"] - never["removed"]

        await wait_until(all_ended, 90, "every job to end")
        final = await snapshot(client, queue_of, tags_of, QUEUES)
        assert_exact(final, queue_of, tags_of)
        await assert_indexes_exact(client, list(queue_of))
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
    gone = [job_id for job_id, state in final.truth.items() if state == "gone"]
    assert not [job_id for job_id in gone if expected[job_id] not in ("completed", "removed")]
    assert all(final.truth[job_id] == "gone" for job_id, outcome in expected.items() if outcome == "removed")

    # Removing and cleaning finished jobs keeps every index exact too.
    failed_alpha = await api.jobs("alpha", "failed", function="always_fails", tag="batch=0", limit=7)
    for info in failed_alpha.jobs:
        await api.remove(info.job_id)
    assert await api.clean("beta", "failed", limit=40) == 40
    assert await api.remove_where("alpha", "completed", function="flaky", limit=25) == 25
    assert_exact(await snapshot(client, queue_of, tags_of, QUEUES), queue_of, tags_of)
    indexes = await assert_indexes_exact(client, list(queue_of))
    assert any(":fn:" in key for key in indexes) and any(":tag:" in key for key in indexes)


async def steer_before_running(api: QueueAPI, expected: dict[str, str]) -> None:
    """Remove, reschedule and promote queued jobs before any worker runs, noting what each must end as."""
    for i in range(502, 900, 20):  # waiting echo jobs tagged batch=*
        await api.remove(f"j{i}")
        expected[f"j{i}"] = "removed"
    doomed = await api.jobs("alpha", "delayed", function="echo", tag="batch=1", limit=10)
    assert doomed.total and len(doomed.jobs) == 10
    assert await api.remove_where("alpha", "delayed", function="echo", tag="batch=1", limit=10) == 10
    for info in doomed.jobs:
        expected[info.job_id] = "removed"
    for i in (1009, 1019, 1029):  # deferred beyond the test: moved further, still delayed
        await api.reschedule(f"j{i}", defer_by=900)
    for i in (1039, 1049):  # deferred beyond the test: run now instead
        await api.promote(f"j{i}")
        expected[f"j{i}"] = "completed"
