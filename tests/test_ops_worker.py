"""Operating workers: heartbeats and `workers`, `health`, `restart`, --max-jobs, and the metrics endpoints, with
real worker processes on the private Redis and real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from queue_system import Client, QueueConfig
from queue_system.api import QueueAPI
from queue_system.health import ops_app
from queue_system.heartbeat import WorkerInfo
from queue_system.job_stats import JobStats
from queue_system.metrics import exposition
from tests.support.processes import Spawn
from tests.support.queue_fixtures import recorded_runs, run_cli, wait_for_runs

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_for_workers(api: QueueAPI, count: int, timeout: float = 20) -> list[WorkerInfo]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = await api.workers()
        if len(live) == count:
            return live
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} live workers, have {await api.workers()}")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, parsed by prometheus-client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
async def api(client: Client) -> QueueAPI:
    return QueueAPI(client)


async def test_a_worker_heartbeat_lists_it_and_health_follows_it(
    client: Client, api: QueueAPI, spawn: Spawn, redis_url: str
) -> None:
    await client.enqueue_job("echo", 1, _queue="alpha")  # the queue is known before any worker serves it
    no_worker = run_cli("health", "--queue", "alpha", redis_url=redis_url)
    assert no_worker.returncode == 1, no_worker.stdout + no_worker.stderr
    assert "no live worker for queue(s): alpha" in no_worker.stderr

    worker = spawn("w1", "-c", "3")
    await wait_for_runs(client, "echo", 1)
    (info,) = await wait_for_workers(api, 1)
    assert (info.pid, info.queues, info.concurrency) == (worker.pid, ("alpha", "beta"), 3)
    assert info.host == socket.gethostname() and info.rss_bytes > 10 * 2**20
    deadline = time.monotonic() + 5
    while info.jobs_done < 1 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        (info,) = await api.workers()
    assert info.jobs_done == 1 and info.jobs_failed == 0

    ok = run_cli("health", "--queue", "alpha", "--this-host", redis_url=redis_url)
    assert ok.returncode == 0, ok.stderr
    listed = run_cli("workers", "--json", redis_url=redis_url)
    assert listed.returncode == 0 and f'"pid": {worker.pid}' in listed.stdout

    worker.signal(__import__("signal").SIGTERM)
    worker.assert_exits(0, timeout=15)
    assert await api.workers() == []  # a clean exit removes the heartbeat at once
    assert run_cli("health", "--queue", "alpha", redis_url=redis_url).returncode == 1


async def test_max_jobs_retires_the_worker_after_that_many_attempts(client: Client, spawn: Spawn) -> None:
    for i in range(30):
        await client.enqueue_job("echo", i, _queue="alpha")
    worker = spawn("limited", "-c", "1", "--max-jobs", "5")
    worker.assert_exits(0, timeout=15)
    assert worker.events("worker.retiring")[0]["reason"].startswith("max jobs reached")
    assert len(await recorded_runs(client, "echo")) == 5  # one slot: it stops claiming once the fifth ends


async def test_memory_limit_retires_the_worker(client: Client, spawn: Spawn) -> None:
    worker = spawn("heavy", "--memory", "1")  # any Python process is above 1 MB
    worker.assert_exits(0, timeout=15)
    assert worker.events("worker.retiring")[0]["reason"].startswith("memory limit passed")


async def test_worker_metrics_endpoint_counts_the_jobs_it_ran(client: Client, spawn: Spawn) -> None:
    port = free_port()
    for i in range(7):
        await client.enqueue_job("echo", i, _queue="alpha")
    await client.enqueue_job("fails_permanently", "bad", _queue="alpha")
    spawn("metered", "--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    await wait_for_runs(client, "echo", 7)
    await wait_for_runs(client, "fails_permanently", 1)
    await asyncio.sleep(0.3)
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    found = samples(answer.text)
    count = (("function", "echo"), ("outcome", "completed"), ("queue", "alpha"))
    assert found[("queue_system_job_duration_seconds_count", count)] == 7
    failed = (("function", "fails_permanently"), ("outcome", "failed"), ("queue", "alpha"))
    assert found[("queue_system_job_duration_seconds_count", failed)] == 1
    assert found[("queue_system_job_wait_seconds_count", (("queue", "alpha"),))] == 8


@pytest.fixture
def ops_server(config: QueueConfig) -> Iterator[str]:
    """The /healthz, /readyz, /metrics app on a real uvicorn server on loopback."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(ops_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


async def test_the_router_serves_health_and_system_metrics_that_match_the_jobs_run(
    client: Client, api: QueueAPI, spawn: Spawn, ops_server: str
) -> None:
    for i in range(12):
        await client.enqueue_job("echo", i, _queue="alpha")
    for _ in range(2):
        await client.enqueue_job("always_fails", _queue="alpha")  # 2 tries each: one retry, one failure
    await client.enqueue_job("on_beta", 1, _queue="beta")
    await client.enqueue_job("echo", "later", _queue="alpha", _defer_by=60)
    spawn("w", "-c", "4")
    await wait_for_runs(client, "echo", 12)
    await wait_for_runs(client, "always_fails", 4)
    await wait_for_runs(client, "on_beta", 1)

    async with httpx.AsyncClient(base_url=ops_server, timeout=5) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = (await http.get("/readyz")).json()
        assert ready["status"] == "ok" and ready["queues_without_workers"] == []
        found: dict[Any, float] = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # workers add their totals about once a second
            found = samples((await http.get("/metrics")).text)
            if found.get(_total("failed", "always_fails")) == 2:
                break
            await asyncio.sleep(0.2)
    assert found[_total("enqueued", "echo")] == 13
    assert found[_total("started", "echo")] == 12
    assert found[_total("completed", "echo")] == 12
    assert found[_total("started", "always_fails")] == 4
    assert found[_total("retried", "always_fails")] == 2
    assert found[_total("failed", "always_fails")] == 2
    assert found[("queue_system_jobs_completed_total", (("function", "on_beta"), ("queue", "beta")))] == 1
    assert found[("queue_system_queue_jobs", (("queue", "alpha"), ("state", "delayed")))] == 1
    assert found[("queue_system_queue_jobs", (("queue", "alpha"), ("state", "completed")))] == 12
    assert found[("queue_system_queue_workers", (("queue", "alpha"),))] == 1
    assert found[("queue_system_workers", ())] == 1
    assert found[("queue_system_queue_oldest_waiting_seconds", (("queue", "alpha"),))] == 0


def _total(event: str, function: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (f"queue_system_jobs_{event}_total", (("function", function), ("queue", "alpha")))


async def test_oldest_waiting_age_looks_at_every_priority(client: Client, api: QueueAPI) -> None:
    await client.enqueue_job("ordered", "low-first", _queue="alpha")  # priority low
    await asyncio.sleep(0.3)
    await client.enqueue_job("echo", "normal-later", _queue="alpha")
    age = await api.oldest_waiting_age_s("alpha")
    assert 0.3 <= age < 5
    assert await api.oldest_waiting_age_s("beta") == 0


async def test_rate_limit_postponements_reach_the_system_metrics(client: Client, api: QueueAPI) -> None:
    await client.enqueue_job("echo", 1, _queue="alpha")  # a queue that has seen a job
    stats = JobStats()
    for _ in range(3):
        stats.record("alpha", "send_email", "postponed")
    assert await stats.flush(client.redis, client.keys) == 3
    assert await stats.flush(client.redis, client.keys) == 0  # nothing counted twice
    found = samples((await exposition(api)).decode())
    postponed = (("function", "send_email"), ("queue", "alpha"))
    assert found[("queue_system_jobs_postponed_total", postponed)] == 3
