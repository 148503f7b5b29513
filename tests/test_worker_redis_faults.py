"""The worker survives Redis going away: restarts under idle and busy workers, a start before Redis exists, and
producers get a typed error at once instead of hanging."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from queue_system import Client, QueueConfig, RedisUnavailable
from tests.support.processes import WorkerProcess
from tests.support.queue_fixtures import TEST_KEY, recorded_runs
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A server of this test's own, with AOF (fsync always), so a restart keeps jobs and leases."""
    server = RedisServer(appendonly=True)
    server.start()
    yield server
    server.close()


def config_for(url: str) -> QueueConfig:
    return QueueConfig(redis_url=url, encryption_keys=(TEST_KEY,), env="test", connect_timeout_s=1)


async def wait_until(predicate_coro: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate_coro():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_an_idle_worker_survives_a_redis_restart(own_redis: RedisServer, tmp_path: Path) -> None:
    worker = WorkerProcess(own_redis.url, tmp_path, "idle")
    try:
        worker.wait_for_event("worker.started")
        own_redis.stop()  # SHUTDOWN NOSAVE
        time.sleep(1.0)
        own_redis.restart()
        async with await Client.connect(config_for(own_redis.url)) as client:
            job = await client.enqueue_job("echo", "after restart", _queue="alpha")
            assert await job.result(timeout=15) == "after restart"
        assert worker.events("redis.unavailable"), "the outage should be logged"
        assert worker.process.poll() is None
    finally:
        worker.stop()


async def test_a_job_running_through_a_redis_restart_finishes_once(own_redis: RedisServer, tmp_path: Path) -> None:
    config = config_for(own_redis.url)
    async with await Client.connect(config) as client:
        job = await client.enqueue_job("sleeper", 2.0, "survivor", _queue="alpha")
    worker = WorkerProcess(own_redis.url, tmp_path, "busy", QS_LEASE_S="5")
    try:
        async with await Client.connect(config) as client:
            await wait_until(lambda: _runs(client, "sleeper", 1))
        own_redis.stop()  # SHUTDOWN NOSAVE: with AOF (fsync always) the job and its lease survive
        time.sleep(0.5)
        own_redis.restart()
        async with await Client.connect(config) as client:
            assert await client.job(job.job_id, "alpha").result(timeout=20) == "survivor"
            await asyncio.sleep(1.0)
            assert len(await recorded_runs(client, "sleeper-done")) == 1
            assert len(await recorded_runs(client, "sleeper")) == 1
    finally:
        worker.stop()


async def _runs(client: Client, name: str, count: int) -> bool:
    return len(await recorded_runs(client, name)) >= count


async def test_a_worker_started_before_redis_waits_for_it(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    worker = WorkerProcess(url, tmp_path, "early")
    server = RedisServer(port=port)
    try:
        worker.wait_for_event("redis.waiting")
        time.sleep(3)
        assert worker.process.poll() is None
        server.start()
        worker.wait_for_event("worker.started", timeout=20)
        async with await Client.connect(config_for(url)) as client:
            job = await client.enqueue_job("echo", "late", _queue="alpha")
            assert await job.result(timeout=10) == "late"
    finally:
        worker.stop()
        server.close()


def test_a_worker_can_give_up_waiting_with_a_clear_error(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    worker = WorkerProcess(url, tmp_path, "impatient", QS_REDIS_WAIT_S="2")
    try:
        worker.assert_exits(4, timeout=15)
        assert "gave up after waiting" in worker.log()
    finally:
        worker.stop()


async def test_enqueue_while_redis_is_down_raises_promptly(own_redis: RedisServer) -> None:
    async with await Client.connect(config_for(own_redis.url)) as client:
        own_redis.stop()
        started = time.monotonic()
        with pytest.raises(RedisUnavailable):
            await client.enqueue_job("echo", 1, _queue="alpha")
        assert time.monotonic() - started < 5
        own_redis.restart()


def test_sigterm_stops_a_worker_still_waiting_for_redis(tmp_path: Path) -> None:
    worker = WorkerProcess(f"redis://127.0.0.1:{free_port()}/0", tmp_path, "waiting")
    try:
        worker.wait_for_event("redis.waiting")
        worker.signal(signal.SIGTERM)
        worker.assert_exits(0, timeout=10)
    finally:
        worker.stop()
