"""One worker process the supervisor runs: ``queue-system worker SETTINGS -q ... -c N`` as a child process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .config import GroupConfig


class WorkerProcess:
    def __init__(self, group: GroupConfig, settings: str) -> None:
        self.group = group
        command = [sys.executable, "-m", "queue_system.cli", "worker", settings, "-c", str(group.concurrency)]
        for queue in group.queues:
            command += ["-q", queue]
        if group.max_jobs is not None:
            command += ["--max-jobs", str(group.max_jobs)]
        if group.memory_mb is not None:
            command += ["--memory", f"{group.memory_mb:g}"]
        self.started = time.monotonic()
        self.retiring = False  # asked to stop by the supervisor (scale-down, shutdown): not replaced
        self.process = subprocess.Popen(command, env=os.environ.copy())

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll(self) -> int | None:
        return self.process.poll()

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def retire(self) -> None:
        """SIGTERM: the worker finishes its running jobs (within its grace period) and exits."""
        self.retiring = True
        self.signal(signal.SIGTERM)

    def signal(self, sig: signal.Signals) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
