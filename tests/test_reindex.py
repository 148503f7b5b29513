"""``queue-system reindex`` rebuilds the bookkeeping from the job records (queue_system/reindex.py).

A real burst leaves jobs in every lasting state (waiting, delayed, completed, failed; tagged and not; retried; one
removed). Then the derived keys are damaged as an older version would have left them (no function indexes, no
function counters, no per-function fields in the tag hashes) plus a corrupted counter, a lost index entry and a
stray one. The repair, through the Python function and through the CLI as a user runs it, must make every counter
and index exact again (tests/support/states.py and tests/support/indexes.py check), keep the outcome totals,
change nothing on a second run, and write nothing with ``--dry-run``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from queue_system import Client, JobRequest, QueueAPI
from queue_system.keys import BOOKKEEPING_VERSION
from queue_system.reindex import check_schema, reindex
from tests.support.indexes import assert_indexes_exact
from tests.support.queue_fixtures import run_burst, run_cli
from tests.support.states import assert_exact, snapshot

QUEUES = ["alpha", "beta", "gamma"]  # gamma has no worker: its jobs stay waiting or delayed
WORKER = "tests.app.settings.WorkerSettings"


def burst_requests() -> list[JobRequest]:
    requests = []
    for i in range(60):
        tags = {"batch": str(i % 3)} if i % 2 == 0 else {}
        kind = i % 6
        if kind == 0:
            request = JobRequest("echo", (i,), queue="alpha")
        elif kind == 1:
            request = JobRequest("flaky", (2,), queue="alpha")  # retried once
        elif kind == 2:
            request = JobRequest("always_fails", (str(i),), queue="alpha")
        elif kind == 3:
            request = JobRequest("on_beta", (i,), queue="beta")
        elif kind == 4:
            request = JobRequest("echo", (i,), queue="gamma")
        else:
            request = JobRequest("echo", (i,), queue="gamma", defer_by=600)  # delayed throughout
        where = {"queue": request.queue, "defer_by": request.defer_by}
        requests.append(JobRequest(request.function, request.args, job_id=f"r{i}", tags=tags, **where))
    return requests


@pytest.fixture
async def jobs_run(client: Client, app_settings: type) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """The burst, run by a real worker; returns each job's queue and tags."""
    requests = burst_requests()
    await client.enqueue_many(requests)
    await run_burst(app_settings)
    await QueueAPI(client).remove("r0")
    queue_of = {r.job_id or "": r.queue or "" for r in requests}
    tags_of = {r.job_id or "": dict(r.tags) for r in requests}
    return queue_of, tags_of


async def check_exact(client: Client, queue_of: dict[str, str], tags_of: dict[str, dict[str, str]]) -> None:
    assert_exact(await snapshot(client, queue_of, tags_of, QUEUES), queue_of, tags_of)
    await assert_indexes_exact(client, list(queue_of))


async def damage(client: Client) -> None:
    """What an older version leaves (no function indexes or counters, no per-function tag fields), plus a
    corrupted queue counter, a job lost from its state index and a stray entry in another."""
    redis, prefix = client.redis, client.keys.prefix
    for pattern in (f"{prefix}:jobs:*:fn:*", f"{prefix}:counts:*:fn:*"):
        async for key in redis.scan_iter(match=pattern):
            await redis.delete(key)
    async for key in redis.scan_iter(match=f"{prefix}:counts:*:tag:*"):
        fields = [f for f in await redis.hkeys(key) if f.startswith(b"fn:")]  # type: ignore[misc]
        await redis.hdel(key, *fields)  # type: ignore[misc]
    await redis.hincrby(client.keys.counts("alpha"), "completed", 5)  # type: ignore[misc]
    await redis.zrem(client.keys.index("alpha", "failed"), "r2")
    await redis.zadd(client.keys.index("beta", "completed"), {"r4": 1})  # r4 is a gamma job
    await redis.srem(client.keys.queues, "gamma")  # type: ignore[misc]
    await redis.delete(client.keys.schema)


async def everything(client: Client) -> dict[str, Any]:
    """Every key under the prefix with its content, to show a dry run writes nothing."""
    redis, found = client.redis, {}
    async for raw in redis.scan_iter(match=f"{client.keys.prefix}:*"):
        key = raw.decode()
        kind = (await redis.type(key)).decode()
        if kind == "hash":
            found[key] = await redis.hgetall(key)  # type: ignore[misc]
        elif kind == "zset":
            found[key] = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            found[key] = await redis.smembers(key)  # type: ignore[misc]
        elif kind == "string":
            found[key] = await redis.get(key)
    return found


async def totals(client: Client) -> dict[str, tuple[int, int, int]]:
    return {s.queue: (s.totals.completed, s.totals.failed, s.totals.aborted) for s in await QueueAPI(client).stats()}


async def test_reindex_repairs_older_bookkeeping_exactly(
    client: Client, jobs_run: tuple[dict[str, str], dict[str, dict[str, str]]]
) -> None:
    queue_of, tags_of = jobs_run
    outcomes = await totals(client)
    await damage(client)
    with pytest.raises(AssertionError):
        await check_exact(client, queue_of, tags_of)

    before = await everything(client)
    dry = await reindex(client.redis, client.keys, dry_run=True)
    assert await everything(client) == before, "a dry run wrote something"
    assert dry.queues["alpha"].counters_corrected > 0 and dry.queues["alpha"].index_added > 0
    assert dry.queues["beta"].index_removed == 1 and dry.queues["gamma"].registered and not dry.schema_set

    report = await reindex(client.redis, client.keys)
    assert report.to_dict()["queues"] == dry.to_dict()["queues"], "the dry run reported other changes"
    assert report.queues["alpha"].records == sum(1 for j, q in queue_of.items() if q == "alpha" and j != "r0")
    await check_exact(client, queue_of, tags_of)
    assert await totals(client) == outcomes, "outcome totals must be kept"
    assert int(await client.redis.get(client.keys.schema)) == BOOKKEEPING_VERSION
    assert (await reindex(client.redis, client.keys)).changes == 0


async def test_reindex_one_queue_leaves_the_others(
    client: Client, jobs_run: tuple[dict[str, str], dict[str, dict[str, str]]]
) -> None:
    await damage(client)
    report = await reindex(client.redis, client.keys, ["beta"])
    assert set(report.queues) == {"beta"} and report.queues["beta"].index_removed == 1
    assert not report.schema_set and await client.redis.get(client.keys.schema) is None
    alpha = await reindex(client.redis, client.keys, ["alpha"], dry_run=True)
    assert alpha.queues["alpha"].changes > 0, "alpha was repaired along with beta"


def cli_report(*args: str, redis_url: str) -> dict[str, Any]:
    proc = run_cli("reindex", "--json", *args, redis_url=redis_url)
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


async def test_reindex_command_as_a_user_runs_it(
    client: Client, redis_url: str, jobs_run: tuple[dict[str, str], dict[str, dict[str, str]]]
) -> None:
    queue_of, tags_of = jobs_run
    await damage(client)
    before = await everything(client)
    dry = cli_report("--dry-run", redis_url=redis_url)
    assert await everything(client) == before
    assert dry["dry_run"] and dry["changes"] > 0 and dry["queues"]["beta"]["index_removed"] == 1

    proc = run_cli("reindex", redis_url=redis_url)
    assert proc.returncode == 0, proc.stderr
    assert "alpha: " in proc.stdout and f"{dry['changes']} change(s)" in proc.stdout, proc.stdout
    await check_exact(client, queue_of, tags_of)
    assert cli_report(redis_url=redis_url)["changes"] == 0
    refused = run_cli("reindex", "--queue", "no:colons", redis_url=redis_url)
    assert refused.returncode == 1 and "invalid queue name" in refused.stderr, refused.stderr


async def test_worker_warns_on_outdated_bookkeeping_until_reindexed(
    client: Client, redis_url: str, jobs_run: tuple[dict[str, str], dict[str, dict[str, str]]]
) -> None:
    await reindex(client.redis, client.keys)
    await client.redis.delete(client.keys.schema)
    assert await check_schema(client.redis, client.keys) is False, "agreeing counters need no reindex"
    assert int(await client.redis.get(client.keys.schema)) == BOOKKEEPING_VERSION
    await damage(client)
    proc = run_cli("worker", WORKER, "--burst", redis_url=redis_url, QS_LOG_FORMAT="json")
    assert proc.returncode == 0, proc.stderr
    warnings = [json.loads(line) for line in proc.stderr.splitlines() if "bookkeeping.outdated" in line]
    assert len(warnings) == 1 and "queue-system reindex" in warnings[0]["fix"], proc.stderr
    assert warnings[0]["found"] is None and warnings[0]["expected"] == BOOKKEEPING_VERSION

    await client.redis.set(client.keys.schema, BOOKKEEPING_VERSION - 1)  # an older marker is outdated too
    assert await check_schema(client.redis, client.keys) is True
    await reindex(client.redis, client.keys)
    proc = run_cli("worker", WORKER, "--burst", redis_url=redis_url, QS_LOG_FORMAT="json")
    assert proc.returncode == 0 and "bookkeeping.outdated" not in proc.stderr, proc.stderr
