#!/usr/bin/env python
"""Instructions per no-op job in the queue-system worker: a measure of its Python cost that this machine's
speed swings do not move.

Wall-clock numbers here change by up to 1.7x within minutes (bench/RESULTS.md), more than most changes to the
worker's hot path. ``valgrind --tool=callgrind`` counts the instructions the worker process executes, which stay
the same from run to run within about 1%. The worker (bench/systems/qs_app.py, the benchmark's own settings)
drains ``--small`` and then, in a second run, ``--large`` pre-enqueued no-op jobs on a private Redis; the
difference divided by the difference in jobs is the cost of one job with start-up taken out. Under callgrind the
worker runs ~50x slower, so Redis answers at once and the claim and finish batches are as full as they get.

    .venv/bin/python bench/job_instructions.py                       # this checkout
    .venv/bin/python bench/job_instructions.py --source /tmp/old     # another checkout (a git worktree), to compare
    QS_LOG_LEVEL=WARNING .venv/bin/python bench/job_instructions.py  # without the per-job log line
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.redis_server import RedisServer  # noqa: E402

SYSTEMS = ROOT / "bench" / "systems"
PYTHON = ROOT / ".venv" / "bin" / "python"
TOTALS = re.compile(rb"^summary:\s+(\d+)", re.MULTILINE)


def instructions(source: Path, jobs: int, redis: RedisServer, workdir: Path) -> int:
    """Instructions of one worker process that drains ``jobs`` pre-enqueued no-op jobs and stops."""
    env = {**os.environ, "BENCH_REDIS_URL": redis.url, "REDIS_URL": redis.url, "PYTHONPATH": str(source)}
    client = redis.client()
    client.flushall()
    subprocess.run(
        [PYTHON, "qs_system.py", "produce", "--scenario", "fill", "--n", str(jobs)],
        cwd=SYSTEMS,
        env=env,
        check=True,
        capture_output=True,
    )
    out = workdir / f"callgrind.{jobs}.out"
    worker = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", PYTHON, "qs_system.py", "worker"],
        cwd=SYSTEMS,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while int(client.llen("bench:records")) < jobs:  # type: ignore[arg-type]
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited with {worker.returncode} before draining {jobs} jobs")
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=300)
    return callgrind_total(out)


def callgrind_total(out: Path) -> int:
    """The instruction total of a callgrind output file (also used by bench/enqueue_instructions.py)."""
    match = TOTALS.search(out.read_bytes())
    if match is None:
        raise SystemExit(f"no instruction total in {out}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout whose queue_system/ runs")
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=2500)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    redis = RedisServer()
    redis.start()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            small = instructions(args.source.resolve(), args.small, redis, Path(workdir))
            large = instructions(args.source.resolve(), args.large, redis, Path(workdir))
    finally:
        redis.stop()
    per_job = (large - small) / (args.large - args.small)
    print(f"source {args.source}: {small:,} instructions for {args.small} jobs, {large:,} for {args.large}")
    print(f"per job: {per_job:,.0f} instructions")


if __name__ == "__main__":
    main()
