"""Five priorities: a higher priority always runs first, FIFO within a level, deferred jobs keep theirs."""

from __future__ import annotations

import time

from queue_system import Client
from tests.support.queue_fixtures import recorded_runs, run_burst

LEVELS = ["background", "low", "normal", "high", "critical"]


async def test_higher_priority_runs_first_and_fifo_within_a_level(client: Client, app_settings: type) -> None:
    for i in range(3):
        for level in LEVELS:
            await client.enqueue_job("ordered", f"{level}-{i}", _queue="alpha", _priority=level)
    await run_burst(app_settings, concurrency=1)
    labels = [r["args"][0] for r in await recorded_runs(client, "ordered")]
    assert labels == [f"{level}-{i}" for level in reversed(LEVELS) for i in range(3)]


async def test_deferred_jobs_wait_for_their_time_then_keep_their_priority(client: Client, app_settings: type) -> None:
    enqueued = time.time()
    await client.enqueue_job("ordered", "critical-deferred", _queue="alpha", _priority="critical", _defer_by=0.4)
    await client.enqueue_job("ordered", "high-deferred", _queue="alpha", _priority="high", _defer_by=0.4)
    for i in range(12):
        # each low job takes 0.1 s, so the deferred ones become due while low jobs still wait
        await client.enqueue_job("ordered", f"low-{i}", sleep=0.1, _queue="alpha", _priority="low")
    await run_burst(app_settings, concurrency=1)
    runs = await recorded_runs(client, "ordered")
    started = {r["args"][0]: r["t"] for r in runs}
    assert started["critical-deferred"] >= enqueued + 0.4
    assert started["high-deferred"] >= enqueued + 0.4
    order = [r["args"][0] for r in runs]
    assert order.index("critical-deferred") < order.index("high-deferred")
    # once due they jump ahead of every low job still waiting
    low_after = [label for label in order[order.index("critical-deferred") :] if label.startswith("low")]
    low_before = [label for label in order[: order.index("critical-deferred")] if label.startswith("low")]
    assert low_after, "the test needs low jobs still waiting when the deferred ones became due"
    assert all(started[label] <= started["critical-deferred"] for label in low_before)


async def test_one_worker_serves_several_queues(client: Client, app_settings: type) -> None:
    a = await client.enqueue_job("echo", "a", _queue="alpha")
    b = await client.enqueue_job("on_beta", 1, _queue="beta")
    await run_burst(app_settings)
    assert await a.result(timeout=1) == "a"
    assert await b.result(timeout=1) == 2
    assert (await client.queue_size("alpha"), await client.queue_size("beta")) == (0, 0)


async def test_a_worker_narrowed_to_one_queue_leaves_the_other(client: Client, app_settings: type) -> None:
    await client.enqueue_job("echo", "a", _queue="alpha")
    await client.enqueue_job("on_beta", 1, _queue="beta")
    await run_burst(app_settings, queues=["beta"])
    assert (await client.queue_size("alpha"), await client.queue_size("beta")) == (1, 0)


def test_scores_carry_the_priority_both_when_ready_and_when_deferred() -> None:
    from queue_system import Priority
    from queue_system.types import PRIORITY_BAND

    for level in Priority:
        assert Priority.from_score(level * PRIORITY_BAND + 12345) == level
        due = level.deferred_score(1_795_000_000_123)
        assert due - 1_795_000_000_123 < 1  # less than a millisecond later
        assert Priority.from_score(due) == level
    assert Priority.from_score(1_795_000_000_123) is None  # a plain timestamp (plain arq) carries none


async def test_a_retried_job_keeps_its_priority(client: Client, app_settings: type) -> None:
    # Timeline with one slot: flaky (high) fails at once and is due again 0.3 s later; background fillers take
    # 0.2 s each. Once due, the retry must run before the fillers still waiting, not after all of them.
    job = await client.enqueue_job("flaky", 2, _queue="alpha", _priority="high")
    for i in range(5):
        await client.enqueue_job("ordered", f"filler-{i}", sleep=0.2, _queue="alpha", _priority="background")
    await run_burst(app_settings, concurrency=1)
    assert await job.result(timeout=1) == "ok on try 2"
    order = [f"{r['name']}:{r['try']}" if r["name"] == "flaky" else r["args"][0] for r in await recorded_runs(client)]
    assert order[0] == "flaky:1"
    assert 2 <= order.index("flaky:2") <= 4, order  # after one or two fillers, well before the last ones
