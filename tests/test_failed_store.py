"""Failed-store operations: list with paging and filters, show, retry (fresh tries), forget, flush, prune."""

from __future__ import annotations

import time

import pytest

from queue_system import Client, FailedFilter, JobNotFound
from tests.support.queue_fixtures import failed_entry, recorded_runs, run_burst


async def _fail_some(client: Client, app_settings: type) -> dict[str, str]:
    ids = {}
    for event in ("5", "5", "6"):
        job = await client.enqueue_job("always_fails", event, _queue="alpha", _tags={"event_id": event})
        ids[job.job_id] = event
    job = await client.enqueue_job("fails_permanently", "permanent", _queue="alpha", _tags={"event_id": "5"})
    ids[job.job_id] = "perm"
    await run_burst(app_settings)
    return ids


async def test_list_pages_newest_first_and_filters(client: Client, app_settings: type) -> None:
    await _fail_some(client, app_settings)
    page = await client.failed.list(limit=2)
    assert page.total == 4 and len(page.entries) == 2
    rest = await client.failed.list(offset=2, limit=10)
    everything = page.entries + rest.entries
    assert len({e.job_id for e in everything}) == 4
    assert [e.failed_at_ms for e in everything] == sorted((e.failed_at_ms for e in everything), reverse=True)
    assert (await client.failed.list(FailedFilter(function="always_fails"))).total == 3
    assert (await client.failed.list(FailedFilter(tags={"event_id": "5"}))).total == 3
    both = await client.failed.list(FailedFilter(function="always_fails", tags={"event_id": "5"}))
    assert both.total == 2 and {e.args[0] for e in both.entries} == {"5"}
    assert (await client.failed.list(FailedFilter(queue="beta"))).total == 0


async def test_retry_one_gives_fresh_tries(client: Client, app_settings: type) -> None:
    ids = await _fail_some(client, app_settings)
    job_id = next(i for i, e in ids.items() if e == "6")
    retried = await client.retry_failed(job_id)
    assert retried.job_id == job_id
    with pytest.raises(JobNotFound):
        await client.failed.get(job_id)
    await run_burst(app_settings)
    tries = [r["try"] for r in await recorded_runs(client, "always_fails") if r["job_id"] == job_id]
    assert tries == [1, 2, 1, 2]  # the retry started again from try 1 and had both tries
    assert (await client.failed.get(job_id)).tries == 2


async def test_retry_by_filter_and_all(client: Client, app_settings: type) -> None:
    await _fail_some(client, app_settings)
    assert await client.retry_failed_where(FailedFilter(tags={"event_id": "6"})) == 1
    assert await client.failed.count() == 3
    assert await client.retry_failed_where() == 3
    assert await client.failed.count() == 0
    assert await client.queue_size("alpha") == 4


async def test_forget_flush_and_prune(client: Client, app_settings: type) -> None:
    ids = list(await _fail_some(client, app_settings))
    assert await client.failed.forget([ids[0], "missing"]) == 1
    with pytest.raises(JobNotFound):
        await client.failed.get(ids[0])
    await client.failed.record(failed_entry("old", failed_at_ms=int((time.time() - 3 * 3600) * 1000)))
    assert await client.failed.prune(2 * 3600) == 1
    assert await client.failed.count() == 3
    assert await client.failed.flush(FailedFilter(function="fails_permanently")) == 1
    assert await client.failed.flush() == 2
    assert await client.redis.keys("qs:failed*") == []


async def test_the_store_is_capped_by_count(client: Client) -> None:
    from queue_system.failed import FailedStore

    store = FailedStore(client.redis, client.keys, max_entries=5, max_age_s=3600)
    for i in range(8):
        await store.record(failed_entry(f"j{i}", failed_at_ms=int(time.time() * 1000) + i))
    assert await store.count() == 5
    assert {e.job_id for e in (await store.list()).entries} == {f"j{i}" for i in range(3, 8)}
