#!/usr/bin/env python
"""Rate limiter accuracy and cost, with real worker processes on a private Redis (issue 5, point 2).

    .venv/bin/python bench/ratelimit.py                 # accuracy at 10, 100, 1000 starts/s; cost, 3 rounds
    .venv/bin/python bench/ratelimit.py --quick         # shorter runs, one cost round

Accuracy: 4 worker processes (``queue-system worker``, concurrency 100 each) are started; once they are up, a
function limited to R starts per 1-s window gets R x (D + 1) jobs, enqueued at once. Measured:
  achieved  admissions in the first D windows after the first, divided by D seconds (ideal: R);
  admitted  the most admissions in any 1-s window, by the admission times the limiter recorded (Redis's clock,
            the job record's field "ad"): the limit itself, never above R;
  started   the most recorded job starts in any 1-s window. The limiter admits at exact window boundaries;
            a worker then starts the jobs it claimed together one after the other, so a batch admitted at
            t + 1 s can share a 1-s window of *recorded* starts with the last stragglers of the batch admitted
            at t (more so on a loaded machine);
  lag p99   admission to recorded start, 99th percentile (ms).
  capacity  (printed first) what the same 4 processes achieve with no limit: this machine's ceiling.
Cost: N no-op jobs of one function drained by one worker process (concurrency 100), first start to last start,
for an unlimited function and for one whose rate limit and cap are both declared but never bind; the rounds
alternate so machine load hits both alike. Beside the rates, what the run cost Redis per job (INFO commandstats,
reset once the jobs are enqueued): the time Redis spent in commands (inflated, like every timing, when the
machine is loaded), and the number of commands, counting those the scripts run (steady whatever the load).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from queue_system import Client, QueueConfig  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

STARTS = "bench:starts"
STARTUP_S = 4.0  # workers are started, then given this long to be up before the jobs are enqueued


def start_workers(url: str, rate: int, queue: str, count: int) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QS_")}
    env.update(REDIS_URL=url, BENCH_RATE=str(rate), QS_LOG_LEVEL="WARNING", PYTHONPATH=f"{BENCH}:{ROOT}")
    env.update(QS_KEEP_COMPLETED_COUNT="none")  # keep every record: the admission times are read afterwards
    command = [sys.executable, "-m", "queue_system.cli", "worker", "ratelimit_app.WorkerSettings", "-q", queue]
    return [
        subprocess.Popen(
            [*command, "-c", "100"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.kill()
        worker.wait(10)


async def starts_of(client: Client, name: str, count: int, timeout: float) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await client.redis.llen(STARTS) >= count:
            break
        await asyncio.sleep(0.05)
    raw = await client.redis.lrange(STARTS, 0, -1)
    times = sorted(float(line.split()[1]) for line in map(bytes.decode, raw) if line.startswith(name + " "))
    if len(times) < count:
        raise RuntimeError(f"{name}: only {len(times)} of {count} jobs started within {timeout}s")
    return times


def most_in_a_window(times: list[float], window: float) -> int:
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


async def accuracy(client: Client, url: str, rate: int, windows: int) -> str:
    await client.redis.flushall()
    jobs = rate * (windows + 1)
    workers = start_workers(url, rate, "limited", 4)
    await asyncio.sleep(STARTUP_S)
    ids = await client.enqueue_many_simple("limited", jobs)  # type: ignore[attr-defined]
    try:
        times = await starts_of(client, "limited", jobs, timeout=windows + 60)
    finally:
        stop(workers)
    async with client.redis.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(client.keys.meta(job_id), "ad")
        admitted = sorted(int(ad) / 1000 for (ad,) in await pipe.execute())
    lag = sorted(t - a for t, a in zip(times, admitted, strict=True))  # both sorted: the k-th start, k-th admission
    in_span = sum(1 for t in admitted if t < admitted[0] + windows)
    achieved = in_span / windows
    return (
        f"| {rate} | {achieved:.1f} | {achieved / rate:.3f} | {most_in_a_window(admitted, 1.0)} | "
        f"{most_in_a_window(times, 1.0)} | {lag[int(len(lag) * 0.99)] * 1000:.0f} | {jobs} |"
    )


async def drain(
    client: Client, url: str, function: str, queue: str, jobs: int, processes: int = 1, rate: int = 10
) -> tuple[float, float, float]:
    await client.redis.flushall()
    workers = start_workers(url, rate, queue, processes)
    await asyncio.sleep(STARTUP_S)
    await client.enqueue_many_simple(function, jobs)  # type: ignore[attr-defined]
    await client.redis.config_resetstat()
    try:
        times = await starts_of(client, function, jobs, timeout=300)
        await asyncio.sleep(1.0)  # let the last finishes land
        stats = await client.redis.info("commandstats")
    finally:
        stop(workers)
    redis_us = sum(v["usec"] for k, v in stats.items() if k.startswith("cmdstat_"))
    calls = sum(v["calls"] for k, v in stats.items() if k.startswith("cmdstat_") and k != "cmdstat_evalsha")
    return (jobs - 1) / (times[-1] - times[0]), redis_us / jobs, calls / jobs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    windows, rounds, jobs = (2, 1, 3000) if args.quick else (5, 3, 10000)
    with RedisServer() as server:
        config = QueueConfig(redis_url=server.url, env="test")
        async with await Client.connect(config) as client:
            _add_bulk_helper(client)
            print(f"# rate limiter, 4 worker processes, {windows} windows of 1 s per rate")
            capacity, _, _ = await drain(client, server.url, "unlimited", "free", 2000 * windows, processes=4)
            print(f"capacity of the 4 processes with no limit: {capacity:.0f} starts/s")
            print(
                "| configured/s | achieved/s | ratio | admitted, max in 1 s | started, max in 1 s | lag p99 ms | jobs |"
            )
            print("|---|---|---|---|---|---|---|")
            for rate in (10, 100, 1000):
                print(await accuracy(client, server.url, rate, windows), flush=True)
            print(f"\n# cost: {jobs} no-op jobs, 1 worker process at concurrency 100 (jobs/s, first to last start)")
            print("| round | jobs/s: unlimited | never binding | ratio | Redis µs/job | Redis commands/job |")
            print("|---|---|---|---|---|---|")
            for r in range(rounds):
                free, free_us, free_calls = await drain(client, server.url, "unlimited", "free", jobs)
                loose, loose_us, loose_calls = await drain(client, server.url, "not_binding", "loose", jobs)
                print(
                    f"| {r + 1} | {free:.0f} | {loose:.0f} | {loose / free:.3f} | {free_us:.0f} vs {loose_us:.0f} "
                    f"| {free_calls:.1f} vs {loose_calls:.1f} |",
                    flush=True,
                )


def _add_bulk_helper(client: Client) -> None:
    """Enqueue ``n`` jobs of a function by name (routing comes from what the workers publish, or the app)."""
    from ratelimit_app import WorkerSettings

    from queue_system import JobRequest

    queues = {spec.name: spec.queue for spec in WorkerSettings.qs_specs}

    async def enqueue_many_simple(function: str, n: int) -> list[str]:
        jobs = await client.enqueue_many(JobRequest(function, (i,), queue=queues[function]) for i in range(n))
        return [job.job_id for job in jobs]

    client.enqueue_many_simple = enqueue_many_simple  # type: ignore[attr-defined]


if __name__ == "__main__":
    asyncio.run(main())
