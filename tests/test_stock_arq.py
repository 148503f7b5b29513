"""``arq settings.WorkerSettings`` (arq's own Worker) runs every job correctly: retries by policy, the failed
store, priorities, deferred jobs, broken payloads."""

from __future__ import annotations

import subprocess
import sys

from arq.worker import Worker, get_kwargs

from queue_system import Client
from queue_system.keys import queue_key
from tests.support.queue_fixtures import ROOT, recorded_runs, subprocess_env


async def run_stock(settings: type, **overrides: object) -> None:
    worker = Worker(**{**get_kwargs(settings), "burst": True, "handle_signals": False, **overrides})
    try:
        await worker.async_run()
    finally:
        await worker.close()


async def test_retries_failed_store_and_results(client: Client, app_settings: type) -> None:
    ok = await client.enqueue_job("flaky", 2, _queue="alpha")
    bad = await client.enqueue_job("always_fails", "z", _queue="alpha")
    await run_stock(app_settings, poll_delay=0.01)
    assert await ok.result(timeout=1) == "ok on try 2"
    entry = await client.failed.get(bad.job_id)
    assert entry.tries == 2 and entry.exc_type == "ValueError"


async def test_priorities_and_deferred_jobs(client: Client, app_settings: type) -> None:
    for level in ["background", "low", "normal", "high", "critical"]:
        await client.enqueue_job("ordered", level, _queue="alpha", _priority=level)
    await client.enqueue_job("ordered", "deferred-critical", _queue="alpha", _priority="critical", _defer_by=0.3)
    for i in range(6):
        await client.enqueue_job("ordered", f"slow-{i}", sleep=0.1, _queue="alpha", _priority="background")
    await run_stock(app_settings, max_jobs=1, queue_read_limit=1, poll_delay=0.01)
    order = [r["args"][0] for r in await recorded_runs(client, "ordered")]
    assert order[:5] == ["critical", "high", "normal", "low", "background"]
    position = order.index("deferred-critical")
    assert 5 < position < len(order) - 1  # after its time, but ahead of background jobs still waiting


async def test_broken_payloads_reach_the_failed_store(client: Client, app_settings: type) -> None:
    await client.redis.set("arq:job:bad", b"\x80\x04garbage")
    await client.redis.zadd(queue_key("alpha"), {"bad": 1})
    unknown = await client.enqueue_job("nope", _queue="alpha")
    await run_stock(app_settings, poll_delay=0.01)
    assert (await client.failed.get("bad")).reason == "undecodable payload"
    assert (await client.failed.get(unknown.job_id)).reason == "function not found"


async def test_the_arq_command_runs_the_settings(client: Client, redis_url: str) -> None:
    ok = await client.enqueue_job("flaky", 2, _queue="alpha")
    bad = await client.enqueue_job("always_fails", _queue="alpha")
    arq = [sys.executable, "-c", "import sys; from arq.cli import cli; sys.exit(cli())"]
    done = subprocess.run(
        [*arq, "tests.app.settings.WorkerSettings", "--burst"],
        cwd=ROOT,
        env=subprocess_env(redis_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert await ok.result(timeout=1) == "ok on try 2"
    assert (await client.failed.get(bad.job_id)).tries == 2
