#!/usr/bin/env python
"""What the job bookkeeping (states, counts, indexes, events, retention) costs: no-op drain throughput with it on
and off, in one run on one private Redis, and the Redis memory each retained job takes.

    .venv/bin/python bench/bookkeeping.py                 # 20 000 jobs, 3 runs per variant (about 3 minutes)
    .venv/bin/python bench/bookkeeping.py --jobs 5000 --runs 1
    .venv/bin/python bench/bookkeeping.py --baseline <git ref>

Variants, run in rotation so drift in machine load hits them alike:
    on     this tree, default settings: every transition counted per queue and per tag, indexed, an event per
           start and end, completed records trimmed to the last 1 000 (retention applied as jobs finish)
    lean   this tree with events off (QS_EVENTS_MAXLEN=0) and completed records not kept
           (QS_KEEP_COMPLETED_COUNT=0): both real, supported settings; the counters always run
    off    the engine as of the baseline commit, before the bookkeeping existed: the newest commit whose
           queue_system has no lua/include/state.lua (or --baseline). There is no "bookkeeping off" switch:
           the scripts that move a job are the only writers of its state, so a mode without it would be a
           second engine. Comparing against the engine without it measures exactly what it adds (plus any
           other engine change made since the baseline, which the header names).

Each measurement: flush Redis, enqueue N no-op jobs with the variant's own client, start one
``queue-system worker -c 100`` of that variant, and time from the first finished job to the last (the queue's
size, polled every 2 ms). Memory: with records kept for every job (QS_KEEP_COMPLETED_COUNT=none), Redis'
used_memory after a drain minus before, per job, the event stream shown apart (it is capped, not per job).
"""

from __future__ import annotations

import argparse
import os
import shutil
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

from tests.support.redis_server import RedisServer  # noqa: E402

PYTHON = ROOT / ".venv" / "bin" / "python"
QUEUE_KEY = "arq:queue:bench"
MARKER = "queue_system/lua/include/state.lua"  # exists exactly when the bookkeeping does

APP = textwrap.dedent(
    """
    from queue_system import JobContext, job, worker_settings


    @job(queue="bench")
    async def noop(ctx: JobContext, i: int) -> None:
        return None


    WorkerSettings = worker_settings(jobs=[noop], queues=["bench"], concurrency=100)
    """
)
PRODUCER = textwrap.dedent(
    """
    import asyncio, sys
    from queue_system import Client, JobRequest, QueueConfig

    async def main(n: int) -> None:
        async with await Client.connect(QueueConfig.from_env()) as client:
            for start in range(0, n, 1000):
                batch = range(start, min(n, start + 1000))
                await client.enqueue_many([JobRequest("noop", (i,), queue="bench") for i in batch])

    asyncio.run(main(int(sys.argv[1])))
    """
)


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def baseline_ref() -> str:
    """The newest commit whose queue_system has no bookkeeping."""
    for commit in git("rev-list", "HEAD", "--", "queue_system").splitlines():
        if subprocess.run(["git", "cat-file", "-e", f"{commit}:{MARKER}"], cwd=ROOT, capture_output=True).returncode:
            return commit
    raise SystemExit("no commit without the bookkeeping found; pass --baseline")


class Variant:
    def __init__(self, name: str, source: Path, env: dict[str, str]) -> None:
        self.name, self.source, self.env = name, source, env

    def environ(self, redis_url: str, app_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("QS_")}
        env.update(REDIS_URL=redis_url, QS_ENV="production", QS_LOG_LEVEL="WARNING", **self.env)
        env["PYTHONPATH"] = f"{self.source}{os.pathsep}{app_dir}"
        return env


def prepare(work: Path, ref: str) -> tuple[Path, list[Variant]]:
    app_dir = work / "app"
    app_dir.mkdir()
    (app_dir / "bk_app.py").write_text(APP)
    (app_dir / "bk_produce.py").write_text(PRODUCER)
    current = work / "current"
    shutil.copytree(ROOT / "queue_system", current / "queue_system", ignore=shutil.ignore_patterns("__pycache__"))
    baseline = work / "baseline"
    baseline.mkdir()
    archive = subprocess.run(["git", "archive", ref, "queue_system"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive.stdout, check=True)
    lean = {"QS_EVENTS_MAXLEN": "0", "QS_KEEP_COMPLETED_COUNT": "0"}
    return app_dir, [Variant("on", current, {}), Variant("lean", current, lean), Variant("off", baseline, {})]


@dataclass(frozen=True)
class Drain:
    rate: float  # jobs per second
    worker_us: float  # the worker process's CPU time per job (user + system), microseconds
    redis_us: float  # the Redis server's CPU time per job, microseconds


def drain(server: RedisServer, variant: Variant, app_dir: Path, n: int) -> Drain:
    """One worker draining ``n`` pre-enqueued no-op jobs: its rate, and the CPU it and Redis spent per job."""
    client: Any = server.client()  # redis-py's sync typing: every reply is Awaitable | Any
    client.flushall()
    env = variant.environ(server.url, app_dir)
    subprocess.run([str(PYTHON), str(app_dir / "bk_produce.py"), str(n)], env=env, check=True, cwd=app_dir)
    assert client.zcard(QUEUE_KEY) == n, "the producer did not enqueue every job"
    command = [str(PYTHON), "-m", "queue_system.cli", "worker", "bk_app.WorkerSettings", "-c", "100"]
    worker = subprocess.Popen(command, env=env, cwd=app_dir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        size, deadline = n, time.monotonic() + 600
        while size == n:
            size = client.zcard(QUEUE_KEY)
            if worker.poll() is not None or time.monotonic() > deadline:
                stderr = worker.stderr.read().decode()[-2000:] if worker.stderr else ""
                raise SystemExit(f"{variant.name}: the worker stopped: {stderr}")
            time.sleep(0.002)
        started, first_left = time.perf_counter(), size
        worker_cpu, redis_cpu = _process_cpu_s(worker.pid), _redis_cpu_s(client)
        while size:
            time.sleep(0.002)
            size = client.zcard(QUEUE_KEY)
        elapsed = time.perf_counter() - started
        worker_us = (_process_cpu_s(worker.pid) - worker_cpu) / first_left * 1e6
        redis_us = (_redis_cpu_s(client) - redis_cpu) / first_left * 1e6
        return Drain(first_left / elapsed, worker_us, redis_us)
    finally:
        stop(worker)
        client.close()


def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _redis_cpu_s(client: Any) -> float:
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def stop(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: the baseline engine may not exit on SIGTERM after a busy run (a bug since fixed)."""
    worker.terminate()
    try:
        worker.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.communicate(timeout=10)


def memory_per_job(
    server: RedisServer, variant: Variant, app_dir: Path, n: int, keep_all: bool
) -> tuple[float, int, int]:
    """(bytes per job left in Redis, the event stream's bytes, keys left) after a drain."""
    if keep_all:
        variant = Variant(variant.name, variant.source, {**variant.env, "QS_KEEP_COMPLETED_COUNT": "none"})
    client: Any = server.client()
    client.flushall()
    before = int(client.info("memory")["used_memory"])
    drain(server, variant, app_dir, n)
    client = server.client()
    stream = int(client.memory_usage("qs:events") or 0)
    used = int(client.info("memory")["used_memory"]) - before - stream
    keys = int(client.dbsize())
    client.close()
    return used / n, stream, keys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="git ref of the engine without bookkeeping (default: found in history)")
    options = parser.parse_args()
    ref = options.baseline or baseline_ref()
    results: dict[str, list[Drain]] = {}
    with tempfile.TemporaryDirectory(prefix="qs-bookkeeping-") as tmp, RedisServer() as server:
        app_dir, variants = prepare(Path(tmp), ref)
        for run in range(options.runs):
            for variant in variants[run % len(variants) :] + variants[: run % len(variants)]:
                result = drain(server, variant, app_dir, options.jobs)
                results.setdefault(variant.name, []).append(result)
                print(
                    f"[run {run + 1}/{options.runs}] {variant.name:<5} {result.rate:,.0f} jobs/s, CPU per job: "
                    f"worker {result.worker_us:.0f} us, Redis {result.redis_us:.0f} us",
                    file=sys.stderr,
                )
        per_job, stream, keys = memory_per_job(server, variants[0], app_dir, options.jobs, keep_all=True)
        _, _, default_keys = memory_per_job(server, variants[0], app_dir, options.jobs, keep_all=False)
    report(options, ref, results, per_job, stream, keys, default_keys)


def report(
    options: argparse.Namespace,
    ref: str,
    results: dict[str, list[Drain]],
    per_job: float,
    stream: int,
    keys: int,
    default_keys: int,
) -> None:
    def median(name: str, field: str) -> float:
        return float(statistics.median(getattr(d, field) for d in results[name]))

    off = median("off", "rate")
    print(f"# Bookkeeping cost, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print(f"- command: `bench/bookkeeping.py --jobs {options.jobs} --runs {options.runs}`")
    print(f"- machine: {os.cpu_count()} cores, load average at the end {os.getloadavg()[0]:.2f}")
    print(f"- off = queue_system at {ref[:10]} ({git('log', '-1', '--format=%s', ref)[:70]})")
    print(f"- drain: {options.jobs:,} no-op jobs, one worker at concurrency 100; medians of {options.runs} run(s)\n")
    print("| variant | jobs/s | runs | throughput vs off | worker CPU/job | Redis CPU/job |")
    print("|---|---:|---|---:|---:|---:|")
    for name in ("off", "lean", "on"):
        runs = ", ".join(f"{d.rate:,.0f}" for d in results[name])
        change = "—" if name == "off" else f"{(median(name, 'rate') / off - 1) * 100:+.1f} %"
        print(
            f"| {name} | {median(name, 'rate'):,.0f} | {runs} | {change} | {median(name, 'worker_us'):.0f} us "
            f"| {median(name, 'redis_us'):.0f} us |"
        )
    ratio = median("on", "rate") / off
    verdict = "within" if ratio >= 0.85 else "over"
    print(f"\non / off = {ratio:.3f}: the bookkeeping costs {(1 - ratio) * 100:.1f} % ({verdict} the 15 % goal)")
    print(f"\nRedis memory per retained job (record, result, index entry): {per_job:,.0f} bytes")
    print(f"event stream (capped at about QS_EVENTS_MAXLEN entries, not per job): {stream / 1024:,.0f} KiB")
    print(
        f"keys after draining {options.jobs:,} jobs: {keys:,} with every record kept, "
        f"{default_keys:,} with the default retention (the last 1 000 completed records and their results)"
    )


if __name__ == "__main__":
    main()
