"""The autoscaling supervisor: the scaling rule on its own, then `queue-system supervise` as a real process running
real worker processes on the private Redis (burst scaling, a killed worker, restart after deploy, graceful stop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from queue_system import Client
from queue_system.api import QueueAPI
from queue_system.client import JobRequest
from queue_system.errors import ConfigError
from queue_system.supervisor import GroupConfig, Load, decide, load_supervisor_config
from tests.support.queue_fixtures import ROOT, recorded_runs, run_cli, subprocess_env, wait_for_runs
from tests.test_ops_worker import free_port, samples, wait_for_workers

# --- the rule ---------------------------------------------------------------------------------------------------


def group(**overrides: Any) -> GroupConfig:
    values: dict[str, Any] = {"name": "g", "queues": ["alpha"], "min_workers": 1, "max_workers": 5}
    return GroupConfig(**{**values, **overrides})


def test_defaults_are_the_seeds() -> None:
    g = GroupConfig(name="scraping", queues=["scraping"])
    assert (g.min_workers, g.max_workers, g.scale_up_threshold, g.scale_down_threshold) == (2, 20, 10, 2)
    assert (g.cooldown_s, g.concurrency) == (300, 10)


def test_a_burst_scales_straight_to_what_the_backlog_needs_within_the_range() -> None:
    assert decide(group(), 1, Load(5000, 10, 1.0), since_last_scaling_s=1e9).target == 5  # type: ignore[union-attr]
    assert decide(group(), 1, Load(25, 10, 1.0), since_last_scaling_s=1e9).target == 3  # type: ignore[union-attr]
    assert decide(group(), 2, Load(15, 10, 1.0), since_last_scaling_s=1e9) is None  # 7.5 per process: enough
    assert decide(group(), 1, Load(5000, 10, 1.0), since_last_scaling_s=10) is None  # cooldown (300 s)


def test_an_old_backlog_scales_up_by_one_even_when_short() -> None:
    g = group(scale_up_wait_s=30)
    assert decide(g, 2, Load(3, 20, 45.0), since_last_scaling_s=1e9).target == 3  # type: ignore[union-attr]
    assert decide(g, 2, Load(3, 20, 5.0), since_last_scaling_s=1e9) is None


def test_scaling_down_goes_one_process_at_a_time_and_only_when_the_rest_hold_the_running_jobs() -> None:
    g = group(concurrency=10)
    assert decide(g, 4, Load(0, 5, 0), since_last_scaling_s=1e9).target == 3  # type: ignore[union-attr]
    assert decide(g, 4, Load(0, 35, 0), since_last_scaling_s=1e9) is None  # 3 processes hold only 30
    assert decide(g, 1, Load(0, 0, 0), since_last_scaling_s=1e9) is None  # the minimum stays


def test_settings_refuse_unknown_keys_and_bad_ranges(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('worker_settings = "x.Y"\n[[groups]]\nname = "g"\nqueues = ["a"]\nmin_wrkers = 1\n')
    with pytest.raises(ConfigError, match="min_wrkers"):
        load_supervisor_config(str(path))
    path.write_text(
        'worker_settings = "x.Y"\n[[groups]]\nname = "g"\nqueues = ["a"]\nmin_workers = 3\nmax_workers = 2\n'
    )
    with pytest.raises(ConfigError, match="min_workers > max_workers"):
        load_supervisor_config(str(path))


# --- the process ------------------------------------------------------------------------------------------------


class SupervisorProcess:
    def __init__(self, redis_url: str, tmp_path: Path, settings: dict[str, Any], *args: str) -> None:
        path = tmp_path / "supervisor.json"
        path.write_text(json.dumps({"worker_settings": "tests.app.settings.WorkerSettings", **settings}))
        self.log_path = tmp_path / "supervisor.log"
        self._log = self.log_path.open("w")
        command = [sys.executable, "-m", "queue_system.cli", "supervise", str(path), *args]
        env = subprocess_env(redis_url, QS_SHUTDOWN_GRACE_S="10")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True
        )

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == name:
                found.append(event)
        return found

    def stop(self) -> None:
        """Stop it as an operator would (SIGTERM); whatever is left of its process group is killed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


@pytest.fixture
def supervise(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., SupervisorProcess]]:
    started: list[SupervisorProcess] = []

    def start(settings: dict[str, Any], *args: str) -> SupervisorProcess:
        started.append(SupervisorProcess(redis_url, tmp_path, settings, *args))
        return started[-1]

    yield start
    for proc in started:
        proc.stop()


async def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check() if asyncio.iscoroutinefunction(check) else check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def alpha_group(**overrides: Any) -> dict[str, Any]:
    return {"name": "alpha", "queues": ["alpha"], **overrides}


@pytest.mark.slow
async def test_a_burst_grows_the_group_to_max_within_one_cooldown_and_it_shrinks_back(
    client: Client, supervise: Callable[..., SupervisorProcess]
) -> None:
    api = QueueAPI(client)
    cooldown = 2.0
    settings = {
        "check_interval_s": 0.2,
        "groups": [alpha_group(min_workers=1, max_workers=3, concurrency=25, cooldown_s=cooldown)],
    }
    sup = supervise(settings)
    await wait_for_workers(api, 1)
    await client.enqueue_many(JobRequest("ordered", (f"b{i}", 0.02)) for i in range(5000))
    burst_at = time.monotonic()
    up = await wait_until(lambda: sup.events("supervisor.scaling_up"), cooldown, "scaling up")
    decided_in = time.monotonic() - burst_at
    assert (up[0]["from"], up[0]["to"]) == (1, 3)
    await wait_for_workers(api, 3, timeout=15)  # the new processes' start-up (imports) comes on top
    grown_in = time.monotonic() - burst_at
    events = [e async for e in api.events(last=20_000) if e.event.startswith("scaling")]
    assert any(e.event == "scaling_up" and e.data["to"] == "3" for e in events)

    await wait_for_runs(client, "ordered", 5000, timeout=60)
    await wait_until(lambda: len(sup.events("supervisor.scaling_down")) >= 2, 3 * cooldown + 5, "scaling down")
    await wait_for_workers(api, 1, timeout=15)
    downs = [(e["from"], e["to"]) for e in sup.events("supervisor.scaling_down")]
    assert downs[:2] == [(3, 2), (2, 1)]
    assert len(await recorded_runs(client, "ordered")) == 5000  # nothing lost or repeated by scaling down
    print(
        f"\nburst of 5000: scaled 1 -> 3 after {decided_in:.2f}s, 3 live after {grown_in:.2f}s (cooldown {cooldown}s)"
    )


@pytest.mark.slow
async def test_a_killed_worker_is_replaced_and_stop_is_graceful(
    client: Client, supervise: Callable[..., SupervisorProcess]
) -> None:
    api = QueueAPI(client)
    port = free_port()
    settings = {"check_interval_s": 0.2, "restart_backoff_s": 0.2, "groups": [alpha_group(min_workers=2)]}
    sup = supervise(settings, "--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    before = {w.pid for w in await wait_for_workers(api, 2)}
    victim = sorted(before)[0]
    os.kill(victim, signal.SIGKILL)
    crashed = await wait_until(lambda: sup.events("supervisor.worker_crashed"), 10, "crash noticed")
    assert crashed[0]["pid"] == victim and crashed[0]["code"] == -signal.SIGKILL

    async def replaced() -> bool:
        pids = {w.pid for w in await api.workers()}
        return len(pids) == 2 and victim not in pids and bool(pids - before)

    await wait_until(replaced, 15, "a replacement worker")

    async def settled() -> dict[Any, float] | None:  # the killed worker's heartbeat may outlive it by a scrape
        async with httpx.AsyncClient() as http:
            found = samples((await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text)
        return found if found[("queue_system_queue_workers", (("queue", "alpha"),))] == 2 else None

    found = await wait_until(settled, 15, "the metrics to show two workers")
    assert found[("queue_system_supervisor_processes", (("group", "alpha"),))] == 2

    job = await client.enqueue_job("sleeper", 0.5, "in-flight", _queue="alpha")
    await wait_for_runs(client, "sleeper", 1)
    sup.process.send_signal(signal.SIGTERM)
    assert sup.process.wait(20) == 0
    assert await job.result(timeout=1) == "in-flight"  # the running job finished before its worker exited
    assert await api.workers() == []


@pytest.mark.slow
async def test_restart_under_the_supervisor_replaces_every_worker_and_runs_each_job_once(
    client: Client, supervise: Callable[..., SupervisorProcess], redis_url: str
) -> None:
    api = QueueAPI(client)
    settings = {"check_interval_s": 0.2, "groups": [alpha_group(min_workers=2, max_workers=2, concurrency=4)]}
    sup = supervise(settings)
    old = {w.pid for w in await wait_for_workers(api, 2)}
    jobs = await client.enqueue_many(JobRequest("sleeper", (0.2, f"r{i}")) for i in range(100))
    await wait_for_runs(client, "sleeper-done", 8)
    assert run_cli("restart", redis_url=redis_url).returncode == 0

    async def fresh() -> bool:
        pids = {w.pid for w in await api.workers()}
        return len(pids) == 2 and not pids & old

    try:
        await wait_until(fresh, 30, "two fresh workers")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; live: {await api.workers()}\n{sup.log_path.read_text()[-3000:]}") from None
    for job in jobs:
        await job.result(timeout=30)
    assert len(sup.events("supervisor.worker_retired")) == 2
    done = sorted(r["args"][1] for r in await recorded_runs(client, "sleeper-done"))
    assert done == sorted(f"r{i}" for i in range(100))
    assert len(await recorded_runs(client, "sleeper")) == 100
