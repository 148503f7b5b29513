#!/usr/bin/env python
"""What a batch costs: the same no-op jobs enqueued plainly and as one batch (with then and finally callbacks),
side by side in one run on one private Redis.

    .venv/bin/python bench/batches.py                 # 20 000 jobs, 3 runs per variant
    .venv/bin/python bench/batches.py --jobs 5000 --runs 1

For each variant: flush Redis, time the producer (``enqueue_many`` in calls of 1 000 jobs, or ``Batch.create``,
which writes 1 000 per script call), then start one ``queue-system worker -c 100`` and time from the first
finished job to the last, with the worker's and Redis' CPU per job. For the batch also: the time from its last
job to its ``then`` callback having run (callbacks have their own queue), and the Redis memory its own keys take
per job. The variants alternate so drift in the machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bookkeeping import _process_cpu_s, _redis_cpu_s, stop  # noqa: E402

from tests.support.redis_server import RedisServer  # noqa: E402

PYTHON = ROOT / ".venv" / "bin" / "python"
QUEUE_KEY = "arq:queue:bench"
DONE_KEY = "bench:batch-done"

APP = textwrap.dedent(
    """
    import asyncio, sys, time
    from queue_system import Batch, Client, JobContext, QueueConfig, job, worker_settings


    @job(queue="bench")
    async def noop(ctx: JobContext, i: int) -> None:
        return None


    @job(queue="bench-callbacks")
    async def done(ctx: JobContext, kind: str, batch_id: str) -> None:
        await ctx["redis"].rpush("bench:batch-done", f"{kind} {time.time()}")


    WorkerSettings = worker_settings(jobs=[noop, done], queues=["bench", "bench-callbacks"], concurrency=100)


    async def produce(variant: str, n: int) -> None:
        async with await Client.connect(QueueConfig.from_env()) as client:
            started = time.perf_counter()
            if variant == "batch":
                calls = [noop.call(i) for i in range(n)]
                await Batch.create("bench", calls, then=done.call("then"), finally_=done.call("finally"), client=client)
            else:
                for start in range(0, n, 1000):
                    calls = [((i,), {}) for i in range(start, min(n, start + 1000))]
                    await noop.enqueue_many(calls, options=noop.options(client=client))
            print(time.perf_counter() - started)


    if __name__ == "__main__":
        asyncio.run(produce(sys.argv[1], int(sys.argv[2])))
    """
)


@dataclass(frozen=True)
class Result:
    enqueue_s: float
    rate: float  # jobs per second
    worker_us: float
    redis_us: float
    then_ms: float  # batch: last job finished -> then callback ran (ms); plain: 0


def environ(redis_url: str, app_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QS_")}
    env.update(REDIS_URL=redis_url, QS_ENV="production", QS_LOG_LEVEL="WARNING", PYTHONPATH=f"{ROOT}:{app_dir}")
    return env


def run(server: RedisServer, app_dir: Path, variant: str, n: int) -> tuple[Result, int]:
    client: Any = server.client()
    client.flushall()
    env = environ(server.url, app_dir)
    produced = subprocess.run(
        [str(PYTHON), str(app_dir / "bt_app.py"), variant, str(n)],
        env=env,
        cwd=app_dir,
        check=True,
        text=True,
        capture_output=True,
    )
    enqueue_s = float(produced.stdout.strip())
    batch_bytes = sum(int(client.memory_usage(k) or 0) for k in client.keys("qs:batch:*"))
    command = [str(PYTHON), "-m", "queue_system.cli", "worker", "bt_app.WorkerSettings", "-c", "100"]
    worker = subprocess.Popen(command, env=env, cwd=app_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        size = client.zcard(QUEUE_KEY)
        while size >= n:
            if worker.poll() is not None:
                stderr = worker.stderr.read().decode()[-2000:] if worker.stderr else ""
                raise SystemExit(f"the worker stopped: {stderr}")
            time.sleep(0.002)
            size = client.zcard(QUEUE_KEY)
        started, first_left = time.perf_counter(), size
        worker_cpu, redis_cpu = _process_cpu_s(worker.pid), _redis_cpu_s(client)
        while size:
            time.sleep(0.002)
            size = client.zcard(QUEUE_KEY)
        ended = time.time()
        elapsed = time.perf_counter() - started
        worker_us = (_process_cpu_s(worker.pid) - worker_cpu) / first_left * 1e6
        redis_us = (_redis_cpu_s(client) - redis_cpu) / first_left * 1e6
        then_ms = 0.0
        if variant == "batch":
            deadline = time.monotonic() + 30
            while client.llen(DONE_KEY) < 2 and time.monotonic() < deadline:
                time.sleep(0.002)
            fired = dict(entry.decode().split() for entry in client.lrange(DONE_KEY, 0, -1))
            then_ms = (float(fired["then"]) - ended) * 1000
        return Result(enqueue_s, first_left / elapsed, worker_us, redis_us, then_ms), batch_bytes
    finally:
        stop(worker)
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    results: dict[str, list[Result]] = {"plain": [], "batch": []}
    batch_bytes = 0
    with tempfile.TemporaryDirectory(prefix="qs-batches-") as tmp, RedisServer() as server:
        app_dir = Path(tmp)
        (app_dir / "bt_app.py").write_text(APP)
        for i in range(options.runs):
            for variant in ("plain", "batch") if i % 2 == 0 else ("batch", "plain"):
                result, size = run(server, app_dir, variant, options.jobs)
                results[variant].append(result)
                batch_bytes = size or batch_bytes
                print(f"[run {i + 1}/{options.runs}] {variant:<5} {result}", file=sys.stderr)
    report(options, results, batch_bytes)


def report(options: argparse.Namespace, results: dict[str, list[Result]], batch_bytes: int) -> None:
    def median(name: str, field: str) -> float:
        return float(statistics.median(getattr(r, field) for r in results[name]))

    print(f"# Batch cost, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"- command: `bench/batches.py --jobs {options.jobs} --runs {options.runs}`")
    print(f"- machine: {os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.2f}")
    print(f"- {options.jobs:,} no-op jobs; one worker at concurrency 100; medians of {options.runs} run(s)\n")
    print("| variant | enqueue s | drain jobs/s | worker CPU/job | Redis CPU/job | last job -> then |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in ("plain", "batch"):
        then = f"{median(name, 'then_ms'):.0f} ms" if name == "batch" else "—"
        print(
            f"| {name} | {median(name, 'enqueue_s'):.2f} | {median(name, 'rate'):,.0f} | "
            f"{median(name, 'worker_us'):.0f} us | {median(name, 'redis_us'):.0f} us | {then} |"
        )
    ratio = median("batch", "rate") / median("plain", "rate")
    per_job = batch_bytes / options.jobs
    print(f"\nbatch / plain drain rate = {ratio:.3f}; the batch's own keys take {per_job:.0f} bytes per job")


if __name__ == "__main__":
    main()
