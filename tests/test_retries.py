"""Retries by policy under the real worker: delays match the backoff, timeouts and permanent errors, and what
the failed store records after the last try."""

from __future__ import annotations

import itertools

import pytest

from queue_system import Client, JobFailed
from tests.support.queue_fixtures import recorded_runs, run_burst


async def test_any_exception_is_retried_with_the_policy_delays(client: Client, app_settings: type) -> None:
    job = await client.enqueue_job("flaky", 3, _queue="alpha")  # Exponential(0.3): 0.3 s then 0.6 s
    await run_burst(app_settings)
    assert await job.result(timeout=1) == "ok on try 3"
    runs = await recorded_runs(client, "flaky")
    assert [r["try"] for r in runs] == [1, 2, 3]
    gaps = [later["t"] - earlier["t"] for earlier, later in itertools.pairwise(runs)]
    for gap, expected in zip(gaps, [0.3, 0.6], strict=True):
        assert expected * 0.9 <= gap <= expected * 1.1 + 0.03, gaps  # within 10 % (+ poll granularity)


async def test_last_try_lands_in_the_failed_store_with_everything(client: Client, app_settings: type) -> None:
    job = await client.enqueue_job("always_fails", "n1", _queue="alpha", _tags={"event_id": 5})
    await run_burst(app_settings)
    assert [r["try"] for r in await recorded_runs(client, "always_fails")] == [1, 2]
    entry = await client.failed.get(job.job_id)
    assert (entry.function, entry.queue, entry.args, entry.tags) == ("always_fails", "alpha", ["n1"], {"event_id": "5"})
    assert (entry.tries, entry.exc_type, entry.message) == (2, "ValueError", "always fails n1")
    assert "Traceback" in entry.traceback and "raise ValueError" in entry.traceback
    assert entry.reason == "tries exhausted"
    assert 0 < entry.enqueued_at_ms <= entry.started_at_ms <= entry.failed_at_ms
    with pytest.raises(JobFailed, match="ValueError: always fails n1"):
        await job.result(timeout=1)


async def test_a_timeout_is_a_failure_retried_by_the_policy(client: Client, app_settings: type) -> None:
    job = await client.enqueue_job("too_slow", _queue="alpha")
    await run_burst(app_settings)
    assert len(await recorded_runs(client, "too_slow")) == 2
    entry = await client.failed.get(job.job_id)
    assert entry.exc_type == "queue_system.errors.JobTimeout" and entry.reason == "timeout"
    assert "0.2s" in entry.message


@pytest.mark.parametrize("kind", ["key", "permanent"])
async def test_non_retryable_errors_fail_at_once(client: Client, app_settings: type, kind: str) -> None:
    job = await client.enqueue_job("fails_permanently", kind, _queue="alpha")
    await run_burst(app_settings)
    assert len(await recorded_runs(client, "fails_permanently")) == 1
    assert (await client.failed.get(job.job_id)).tries == 1


async def test_a_job_can_ask_for_a_retry(client: Client, app_settings: type) -> None:
    job = await client.enqueue_job("asks_retry", _queue="alpha")
    await run_burst(app_settings)
    assert await job.result(timeout=1) == 2


async def test_lost_attempts_beyond_the_budget_fail_as_worker_lost(client: Client, app_settings: type) -> None:
    job = await client.enqueue_job("echo", "x", _queue="alpha")
    # Three earlier attempts started and never finished (their worker died): arq counts them in its retry key.
    await client.redis.set(f"arq:retry:{job.job_id}", 3)
    await run_burst(app_settings)
    assert await recorded_runs(client, "echo") == []  # echo's max_tries is 3: no code runs on try 4
    entry = await client.failed.get(job.job_id)
    assert entry.reason == "worker lost" and entry.tries == 4
