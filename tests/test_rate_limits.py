"""Rate limits shared by every worker process, keyed limits, and SlowDown, on the real Redis.

Windows are checked twice: exactly, from the admission times the limiter records by Redis's clock (the job's
record, field "ad"): no window of 1 s ever holds more than 5; and from the start times the jobs themselves record.
A job starts a moment after its admission, and that moment varies between workers (more on a loaded machine), so
recorded starts are checked with SLACK_S of slack: no window of (1 s - SLACK_S) holds more than 5 of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from arq.worker import Worker, get_kwargs

from queue_system import Client, QueueAPI, QueueConfig, use_client, worker_settings
from queue_system.admission import postponed_counts
from tests.app.limited import LIMITED, QUEUE_LIMITS, RATE_N, RATE_WINDOW_S, send_to
from tests.support.processes import Spawn
from tests.support.queue_fixtures import recorded_runs, run_burst, wait_for_runs

SETTINGS = "tests.app.limited.WorkerSettings"
SLACK_S = 0.1


@pytest.fixture(autouse=True)
def _typed_handles_use_the_test_client(client: Client) -> Iterator[None]:
    with use_client(client):
        yield


def most_starts_in_a_window(times: list[float], window_s: float) -> int:
    """The largest number of the given start times inside any half-open window of ``window_s``."""
    times = sorted(times)
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window_s:
            first += 1
        best = max(best, last - first + 1)
    return best


async def admitted_at(client: Client, runs: list[dict[str, Any]]) -> list[float]:
    """The admission times (s) the limiter recorded for the jobs of these runs."""
    values = [await client.redis.hget(client.keys.meta(r["job_id"]), "ad") for r in runs]
    assert all(values), "every limited start has its admission recorded"
    return [int(v) / 1000 for v in values]


def limited_settings(config: QueueConfig, queues: list[str]) -> type:
    return worker_settings(
        jobs=LIMITED, queues=queues, concurrency=4, poll_delay_s=0.01, config=config, limits=QUEUE_LIMITS
    )


@pytest.mark.slow
async def test_five_per_second_over_three_worker_processes(client: Client, spawn: Spawn) -> None:
    jobs = [await client.enqueue_job("rate_limited", i, _queue="limited") for i in range(18)]
    for name in ("a", "b", "c"):
        spawn(name, settings=SETTINGS)
    runs = await wait_for_runs(client, "rate_limited", len(jobs), timeout=30)
    starts = [r["t"] for r in runs]
    assert most_starts_in_a_window(await admitted_at(client, runs), RATE_WINDOW_S) == RATE_N
    assert most_starts_in_a_window(starts, RATE_WINDOW_S - SLACK_S) <= RATE_N
    assert max(starts) - min(starts) >= (len(jobs) / RATE_N - 1) * RATE_WINDOW_S - SLACK_S  # the limit bound
    assert {r["try"] for r in runs} == {1}  # postponed jobs used no try
    assert sorted(r["args"][0] for r in runs) == list(range(len(jobs)))  # each ran exactly once
    assert (await postponed_counts(client.redis, client.keys)).get("rate_limited", 0) > 0


async def test_a_queue_limit_holds_for_every_function_of_the_queue(client: Client, config: QueueConfig) -> None:
    for i in range(12):
        await client.enqueue_job("on_limited_queue", i, _queue="qlimited")
    await run_burst(limited_settings(config, ["qlimited"]))
    runs = await recorded_runs(client, "on_limited_queue")
    assert len(runs) == 12 and {r["try"] for r in runs} == {1}
    assert most_starts_in_a_window(await admitted_at(client, runs), RATE_WINDOW_S) == RATE_N
    assert most_starts_in_a_window([r["t"] for r in runs], RATE_WINDOW_S - SLACK_S) <= RATE_N


async def test_a_keyed_limit_is_one_per_recipient(client: Client, config: QueueConfig) -> None:
    for i in range(3):
        await send_to.enqueue("alice", f"hi {i}")  # the handle computes the key at enqueue: claim.lua admits
        await send_to.enqueue("bob", f"hi {i}")
        await client.enqueue_job("send_to", "carol", f"hi {i}", _queue="keyed")  # by name: the worker keys it
    await run_burst(limited_settings(config, ["keyed"]))
    runs = await recorded_runs(client, "send_to")
    by_recipient: dict[str, list[float]] = {}
    for r in runs:
        by_recipient.setdefault(r["args"][0], []).append(r["t"])
    assert sorted(by_recipient) == ["alice", "bob", "carol"]
    for times in by_recipient.values():
        assert len(times) == 3
        assert most_starts_in_a_window(times, 1.0 - SLACK_S) == 1
    firsts = sorted(min(times) for times in by_recipient.values())
    assert firsts[-1] - firsts[0] < 0.5  # different recipients do not wait for each other
    assert {r["try"] for r in runs} == {1}


async def test_slow_down_postpones_without_using_a_try(client: Client, config: QueueConfig) -> None:
    job = await client.enqueue_job("slows_down", 2, _queue="limited")  # max_tries=1: a counted try would fail it
    await run_burst(limited_settings(config, ["limited"]))
    assert await job.result(timeout=5) == 3
    runs = await recorded_runs(client, "slows_down")
    assert [r["try"] for r in runs] == [1, 1, 1]
    assert runs[2]["t"] - runs[0]["t"] >= 0.4 - SLACK_S  # retry_after=0.2 twice
    api = QueueAPI(client)
    assert (await api.postponed())["slows_down"] == 2
    assert (await api.job_totals("limited"))[("postponed", "slows_down")] == 2  # what /metrics exports
    assert (await client.redis.hget(client.keys.meta(job.job_id), "s")) == b"completed"


async def run_stock(settings: type, **overrides: Any) -> None:
    worker = Worker(**{**get_kwargs(settings), "burst": True, "handle_signals": False, "poll_delay": 0.01, **overrides})
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def test_under_the_stock_arq_worker(client: Client, config: QueueConfig) -> None:
    """arq's own Worker runs no claim script of ours: the middleware admits, and gives the try back."""
    for i in range(12):
        await client.enqueue_job("rate_limited", i, _queue="limited")
    slow = await client.enqueue_job("slows_down", 1, _queue="limited")
    await asyncio.gather(
        run_stock(limited_settings(config, ["limited"])), run_stock(limited_settings(config, ["limited"]))
    )
    runs = await recorded_runs(client, "rate_limited")
    assert sorted(r["args"][0] for r in runs) == list(range(12))
    assert {r["try"] for r in runs} == {1}
    assert most_starts_in_a_window(await admitted_at(client, runs), RATE_WINDOW_S) == RATE_N
    assert most_starts_in_a_window([r["t"] for r in runs], RATE_WINDOW_S - SLACK_S) <= RATE_N
    assert await slow.result(timeout=5) == 2
    assert [r["try"] for r in await recorded_runs(client, "slows_down")] == [1, 1]
