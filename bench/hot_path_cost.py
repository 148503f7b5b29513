#!/usr/bin/env python
"""What the job indexes cost Redis on the hot path (enqueue -> claim -> finish), this tree against another, in one run.

    .venv/bin/python bench/hot_path_cost.py --base /tmp/idx-base            # /tmp/idx-base: `git archive` of main
    .venv/bin/python bench/hot_path_cost.py --base /tmp/idx-base --jobs 50000 --rounds 5

Wall-clock throughput on a shared machine swings by half from one run to the next; the Redis server's own CPU
time and its command counts do not. For each tree, a child process (PYTHONPATH = that tree, so its Lua scripts
run) enqueues ``--jobs`` jobs through ``Client.enqueue_many`` (1 000 a call), then claims and finishes them
through claim.lua and finish.lua, 100 a call (a worker at concurrency 100 does the same two calls, without
running anything), once without tags and once with two tags a job. Around each phase it reads the private
redis-server's ``INFO cpu`` (user + sys seconds) and ``INFO commandstats`` (commands run, scripts' included).
The trees alternate within every round, so drifting load hits both alike; the table shows medians and the ratio
this tree / base.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("enqueue", "claim+finish")


async def child(url: str, jobs: int, tagged: bool) -> dict[str, dict[str, float]]:
    """Runs inside the tree under test (its queue_system first on sys.path)."""
    from redis.asyncio import Redis

    import queue_system
    from queue_system import Client, JobRequest, QueueConfig
    from queue_system.keys import queue_key
    from queue_system.serialization import loads
    from queue_system.spec import FunctionInfo

    probe = Redis.from_url(url)
    await probe.flushall()
    out: dict[str, dict[str, float]] = {}
    async with await Client.connect(QueueConfig(redis_url=url)) as client:
        client.register("noop", FunctionInfo(queue="hot"))

        async def enqueue() -> None:
            for start in range(0, jobs, 1000):
                tags = {"shop": "7", "event": "42"} if tagged else {}
                await client.enqueue_many([JobRequest("noop", (i,), tags=tags) for i in range(start, start + 1000)])

        async def drain() -> None:
            prefix, qkey, done = client.keys.prefix, queue_key("hot"), 0
            while done < jobs:
                now = int(time.time() * 1000)
                claimed = await client.scripts.claim(
                    keys=[qkey], args=[now, 100, 600_000, "hot", prefix, 1, "hot"], client=client.redis
                )
                entries = []
                for j in range(1, len(claimed), 11):
                    job_id, token, payload, tags = (claimed[j + k].decode() for k in (1, 3, 5, 7))
                    function = loads(payload)["f"]
                    entry = [job_id, token, "completed", "", "0", "0", "hot", qkey, "", 1000, -1, int(claimed[j + 4])]
                    entries.append([*entry, tags, function])
                await client.scripts.finish(
                    keys=[], args=[prefix, now, 10_000, json.dumps(entries)], client=client.redis
                )
                done += len(entries)

        for phase, run in zip(PHASES, (enqueue, drain), strict=True):
            await probe.config_resetstat()
            cpu_before = await redis_cpu(probe)
            started = time.perf_counter()
            await run()
            wall = time.perf_counter() - started
            cpu = await redis_cpu(probe) - cpu_before
            commands = sum(s["calls"] for s in (await probe.info("commandstats")).values())
            per_job = {"cpu_us_per_job": cpu * 1e6 / jobs, "commands_per_job": commands / jobs}
            out[phase] = {**per_job, "jobs_s": jobs / wall}
    await probe.aclose()
    out["source"] = {"path": queue_system.__file__}  # type: ignore[dict-item]
    return out


async def redis_cpu(probe: object) -> float:
    info = await probe.info("cpu")  # type: ignore[attr-defined]
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def measure(tree: Path, url: str, jobs: int, tagged: bool) -> dict[str, dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{ROOT}"}
    args = [sys.executable, __file__, "--child", url, "--jobs", str(jobs)] + (["--tagged"] if tagged else [])
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=True, cwd=tree)
    found: dict[str, dict[str, float]] = json.loads(done.stdout.strip().splitlines()[-1])
    source = found.pop("source")["path"]
    if not str(source).startswith(str(tree)):
        raise SystemExit(f"{tree}: measured {source} instead")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=Path, help="the tree to compare against (its queue_system/ is used)")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--tagged", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        print(json.dumps(asyncio.run(child(options.child, options.jobs, options.tagged))))
        return
    if options.base is None:
        parser.error("--base is required")
    sys.path.insert(0, str(ROOT))
    from tests.support.redis_server import RedisServer

    trees = {"base": options.base.resolve(), "this": ROOT}
    results: dict[tuple[str, bool, str, str], list[float]] = {}
    print(f"load average at the start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    with RedisServer() as server:
        for round_ in range(options.rounds):
            for tagged in (False, True):
                for name, tree in trees.items():
                    for phase, values in measure(tree, server.url, options.jobs, tagged).items():
                        for metric, value in values.items():
                            results.setdefault((phase, tagged, metric, name), []).append(value)
            print(f"  round {round_ + 1}/{options.rounds} done", file=sys.stderr)
    print(
        f"{options.jobs:,} jobs per phase, {options.rounds} rounds, medians; load average at the end "
        f"{os.getloadavg()[0]:.2f}"
    )
    print(f"{'phase':<14} {'tags':<5} {'metric':<18} {'base':>10} {'this':>10} {'this/base':>10}")
    for phase in PHASES:
        for tagged in (False, True):
            for metric in ("commands_per_job", "cpu_us_per_job", "jobs_s"):
                base = statistics.median(results[(phase, tagged, metric, "base")])
                this = statistics.median(results[(phase, tagged, metric, "this")])
                label = "2" if tagged else "0"
                print(f"{phase:<14} {label:<5} {metric:<18} {base:>10.1f} {this:>10.1f} {this / base:>10.2f}")


if __name__ == "__main__":
    main()
