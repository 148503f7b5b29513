"""The README's example works as written: a worker process for examples.hello, and the script prints the result."""

from __future__ import annotations

import subprocess
import sys

from tests.support.queue_fixtures import ROOT, subprocess_env


def test_hello_example_end_to_end(redis_url: str) -> None:
    env = subprocess_env(redis_url)
    worker = subprocess.Popen(
        [sys.executable, "-m", "queue_system.cli", "worker", "examples.hello.WorkerSettings"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-m", "examples.hello", "Ada"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "Hello, Ada!"
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=15)
    assert worker.returncode == 0, err
