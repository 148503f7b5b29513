#!/usr/bin/env python
"""Dashboard and HTTP API latencies with 1 000 000 jobs in one queue (and 50 queues on the overview).

    .venv/bin/python bench/dashboard.py                    # 1 000 000 jobs (about 2-4 minutes to fill)
    .venv/bin/python bench/dashboard.py --jobs 100000 --requests 10

One private redis-server (tests.support.redis_server); the queue ``big`` is filled through the real client
(``Client.enqueue_many``, enqueue.lua: records, counters, tag counters), alternating two functions, 100 tag values
and payloads ``{"sku": "SKU-<n>"}``, plus one job of a rare function at the far end; 49 small queues make the
overview 50 queues wide. Then ``queue-system dashboard`` runs as a subprocess on loopback and each page and API
call is timed over real HTTP (a bearer token; keep-alive), after 2 warm-up calls: median, p95 and max.
The goal: every page and API call under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from queue_system import Client, QueueConfig  # noqa: E402
from queue_system.client import JobRequest  # noqa: E402
from queue_system.spec import FunctionInfo  # noqa: E402
from queue_system.web.auth import new_token  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

GOAL_MS = 200.0
BIG = "big"


async def fill(url: str, jobs: int) -> tuple[str, str]:
    """Fill the queues; returns the id of a job in the middle and of the rare job."""
    async with await Client.connect(QueueConfig(redis_url=url)) as client:
        for name in ("resize_image", "send_email", "rare_audit"):
            client.register(name, FunctionInfo(queue=BIG))
        rare = (await client.enqueue_job("rare_audit", {"sku": "RARE"}, _tags={"shop": "rare"})).job_id
        middle = ""
        batch = 20_000
        started = time.perf_counter()
        for start in range(0, jobs, batch):
            requests = [
                JobRequest(
                    "resize_image" if i % 2 else "send_email",
                    args=({"sku": f"SKU-{i:07d}", "size": i % 7},),
                    tags={"shop": str(i % 100)},
                )
                for i in range(start, min(start + batch, jobs))
            ]
            made = await client.enqueue_many(requests)
            if start <= jobs // 2 < start + batch:
                middle = made[jobs // 2 - start].job_id
            done = start + len(requests)
            rate = done / (time.perf_counter() - started)
            print(f"\r  filled {done:>9,} jobs ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        for q in range(49):
            client.register(f"small_{q}", FunctionInfo(queue=f"queue-{q:02d}"))
            await client.enqueue_many([JobRequest(f"small_{q}", args=(i,)) for i in range(10)])
        return middle, rare


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_dashboard(url: str, digest: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QS_")}
    env.update(REDIS_URL=url, QS_WEB_TOKENS=f"bench:admin:{digest}", QS_WEB_SECRET_KEY="bench", QS_LOG_LEVEL="WARNING")
    command = [str(ROOT / ".venv/bin/queue-system"), "dashboard", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the dashboard did not start")


def measure(http: httpx.Client, path: str, requests: int) -> tuple[float, float, float, int]:
    for _ in range(2):
        http.get(path)
    times, status = [], 0
    for _ in range(requests):
        started = time.perf_counter()
        response = http.get(path)
        times.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return statistics.median(times), p95, times[-1], status


def targets(middle: str, rare: str, jobs: int) -> list[tuple[str, str]]:
    deep = (jobs // 2) // 50 * 50
    return [
        ("API  queue counts, all 50 queues", "/api/v1/queues"),
        ("API  one queue's counts", f"/api/v1/queues/{BIG}"),
        ("API  counts of a tag", f"/api/v1/queues/{BIG}?tag=shop=42"),
        ("API  waiting, first page (50)", f"/api/v1/queues/{BIG}/jobs?state=waiting"),
        (f"API  waiting, page at offset {deep:,}", f"/api/v1/queues/{BIG}/jobs?state=waiting&offset={deep}"),
        ("API  filter by function (half match)", f"/api/v1/queues/{BIG}/jobs?state=waiting&function=send_email"),
        ("API  filter by tag (1 in 100)", f"/api/v1/queues/{BIG}/jobs?state=waiting&tag=shop=42"),
        ("API  filter, rare function (budget)", f"/api/v1/queues/{BIG}/jobs?state=waiting&function=rare_audit"),
        ("API  payload text search (recent)", f"/api/v1/queues/{BIG}/jobs?state=waiting&q=SKU-{jobs - 30:07d}"),
        ("API  payload text search (budget)", f"/api/v1/queues/{BIG}/jobs?state=waiting&q=RARE"),
        ("API  job detail", f"/api/v1/jobs/{middle}"),
        ("API  throughput, last hour", "/api/v1/throughput"),
        ("page overview (50 queues)", "/"),
        ("page queue, waiting tab", f"/queues/{BIG}?state=waiting"),
        (f"page queue, offset {deep:,}", f"/queues/{BIG}?state=waiting&offset={deep}"),
        ("page queue, search", f"/queues/{BIG}?state=waiting&q=SKU-{jobs - 30:07d}"),
        ("page job", f"/jobs/{middle}"),
        ("page failed store", "/failed"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    options = parser.parse_args()
    token, digest = new_token()
    with RedisServer() as server:
        print(f"filling queue {BIG!r} with {options.jobs:,} jobs, and 49 small queues", file=sys.stderr)
        middle, rare = asyncio.run(fill(server.url, options.jobs))
        port = free_port()
        proc = start_dashboard(server.url, digest, port)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
                print(f"\n{options.jobs:,} jobs in queue {BIG!r}, 50 queues; {options.requests} requests each")
                print(f"{'what':<42} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  status  < {GOAL_MS:.0f} ms")
                for label, path in targets(middle, rare, options.jobs):
                    median, p95, worst, status = measure(http, path, options.requests)
                    verdict = "yes" if p95 < GOAL_MS else "NO"
                    print(f"{label:<42} {median:>10.1f} {p95:>8.1f} {worst:>8.1f}  {status:>6}  {verdict}")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
