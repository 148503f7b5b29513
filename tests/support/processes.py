"""Real worker processes for fault tests: start, signal, kill, read their JSON log events."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.queue_fixtures import ROOT, subprocess_env

SETTINGS = "tests.app.settings.WorkerSettings"


class WorkerProcess:
    """``queue-system worker`` in its own process; stderr (JSON lines) goes to a file the test can read."""

    def __init__(
        self, redis_url: str, log_dir: Path, name: str, *args: str, settings: str = SETTINGS, **env: str
    ) -> None:
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("w")
        command = [sys.executable, "-m", "queue_system.cli", "worker", settings, *args]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=subprocess_env(redis_url, **env), stdout=subprocess.DEVNULL, stderr=self._log
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = []
        for line in self.log_path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if name is None or event.get("event") == name:
                found.append(event)
        return found

    def wait_for_event(self, name: str, timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name)
            if found:
                return found[0]
            if self.process.poll() is not None and not self.events(name):
                raise AssertionError(f"worker exited ({self.process.returncode}) before {name!r}:\n{self.log()}")
            time.sleep(0.02)
        raise AssertionError(f"no {name!r} within {timeout}s:\n{self.log()}")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def wait(self, timeout: float = 30) -> int:
        """The exit code; a process still running after ``timeout`` fails the test with the end of its log."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.log_path.stem} still running after {timeout}s; its log ends:\n{self.log()[-4000:]}"
            ) from None

    def assert_exits(self, code: int, timeout: float) -> float:
        """Wait for the exit and check its code; a wrong code fails the test with the end of the log.

        Returns the seconds waited.
        """
        started = time.monotonic()
        actual = self.wait(timeout)
        assert actual == code, f"{self.log_path.stem} exited {actual}, not {code}; its log ends:\n{self.log()[-6000:]}"
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text()


Spawn = Callable[..., WorkerProcess]


@pytest.fixture
def spawn_env() -> dict[str, str]:
    """Settings every worker a test spawns gets; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
def spawn(redis_url: str, tmp_path: Path, spawn_env: dict[str, str]) -> Iterator[Spawn]:
    """Start worker processes (``spawn(name, *args, settings=..., **env)``); all are stopped when the test ends."""
    started: list[WorkerProcess] = []

    def start(name: str, *args: str, settings: str = SETTINGS, **env: str) -> WorkerProcess:
        worker = WorkerProcess(redis_url, tmp_path, name, *args, settings=settings, **{**spawn_env, **env})
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
