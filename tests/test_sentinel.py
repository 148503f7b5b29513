"""Workers and producers follow a Sentinel failover (primary killed) without a restart, with the password
carried to the new primary."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from queue_system import Client, QueueConfig
from tests.support.processes import WorkerProcess
from tests.support.queue_fixtures import TEST_KEY
from tests.support.sentinel import SentinelSet

pytestmark = pytest.mark.slow
PASSWORD = "s3cret-pass"


@pytest.fixture
def sentinels() -> Iterator[SentinelSet]:
    cluster = SentinelSet(PASSWORD)
    yield cluster
    cluster.close()


async def test_worker_and_producer_follow_a_failover(sentinels: SentinelSet, tmp_path: Path) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1/0"  # host/port unused: sentinels find the primary
    env = {"QS_REDIS_SENTINELS": sentinels.sentinel_list, "QS_REDIS_SENTINEL_MASTER": "mymaster"}
    config = QueueConfig(
        redis_url=url,
        encryption_keys=(TEST_KEY,),
        redis_sentinels=tuple(sentinels.sentinel_list.split(",")),
        connect_timeout_s=2,
    )
    worker = WorkerProcess(url, tmp_path, "sentinel-worker", **env)
    try:
        worker.wait_for_event("worker.started", timeout=30)
        async with await Client.connect(config) as client:
            before = await client.enqueue_job("echo", "before", _queue="alpha")
            assert await before.result(timeout=10) == "before"
            old_primary = sentinels.primary.port
            sentinels.primary.kill()
            deadline = time.monotonic() + 60
            while sentinels.current_primary_port() in (old_primary, None) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert sentinels.current_primary_port() == sentinels.replica.port, "no failover happened"
            after = None
            while after is None and time.monotonic() < deadline:  # producers may see a few errors mid-failover
                try:
                    after = await client.enqueue_job("echo", "after", _queue="alpha")
                except Exception:
                    time.sleep(0.2)
            assert after is not None
            assert await after.result(timeout=30) == "after"
        assert worker.process.poll() is None  # the same worker process, never restarted
    finally:
        worker.stop()
