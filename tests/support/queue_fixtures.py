"""Fixtures for queue behaviour tests: a config and client on the private Redis, the test app's settings,
and helpers to run a worker in burst mode and read the attempts the test jobs recorded."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from queue_system import Client, FailedJob, QueueConfig, worker_settings
from queue_system.worker import QueueWorker, create_worker
from tests.app.jobs import ALL, RUNS_KEY

ROOT = Path(__file__).resolve().parents[2]
# A fixed Fernet key for the tests only.
TEST_KEY = "k7vOQ3Yy1aAqJm9Yk3o0m3dKQx2yGb2oVwQzJ5h8bVA="


@pytest.fixture
def config(redis_url: str) -> QueueConfig:
    return QueueConfig(redis_url=redis_url, encryption_keys=(TEST_KEY,), env="test", log_format="json")


@pytest.fixture
async def client(config: QueueConfig) -> AsyncIterator[Client]:
    async with await Client.connect(config) as c:
        yield c


@pytest.fixture
def app_settings(config: QueueConfig) -> type:
    return worker_settings(jobs=ALL, queues=["alpha", "beta"], concurrency=4, poll_delay_s=0.01, config=config)


async def run_burst(
    settings: type, *, queues: Sequence[str] | None = None, concurrency: int | None = None
) -> QueueWorker:
    worker = create_worker(settings, queues=queues, concurrency=concurrency, burst=True, handle_signals=False)
    try:
        await worker.async_run()
    finally:
        await worker.close()
    return worker


async def recorded_runs(client: Client, name: str | None = None) -> list[dict[str, Any]]:
    runs = [json.loads(raw) for raw in await client.redis.lrange(RUNS_KEY, 0, -1)]
    return [r for r in runs if name is None or r["name"] == name]


def subprocess_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QS_")}
    env.update(
        REDIS_URL=redis_url, QS_ENCRYPTION_KEYS=TEST_KEY, QS_ENV="test", QS_LOG_FORMAT="json", PYTHONPATH=str(ROOT)
    )
    env.update(extra)
    return env


def run_cli(*args: str, redis_url: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed ``queue-system`` command as a user would (a real process, real exit code)."""
    command = [sys.executable, "-m", "queue_system.cli", *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=subprocess_env(redis_url, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def failed_entry(job_id: str, *, failed_at_ms: int, **fields: Any) -> FailedJob:
    """A failed-store entry written directly (e.g. an old one, to test pruning)."""
    values: dict[str, Any] = {
        "function": "always_fails",
        "queue": "alpha",
        "args": [],
        "kwargs": {},
        "payload": "",
        "exc_type": "ValueError",
        "message": "always fails",
        "traceback": "Traceback (most recent call last):\nValueError: always fails\n",
        "tries": 2,
        **fields,
    }
    return FailedJob(job_id=job_id, failed_at_ms=failed_at_ms, **values)


async def wait_for_runs(client: Client, name: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    """Wait until the test jobs recorded ``count`` runs of ``name`` (from any process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = await recorded_runs(client, name)
        if len(runs) >= count:
            return runs
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name}: expected {count} runs, got {await recorded_runs(client, name)}")
