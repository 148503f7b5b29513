#!/usr/bin/env python
"""Dashboard and HTTP API latencies with 1 000 000 jobs in one queue (and 50 queues on the overview).

    .venv/bin/python bench/dashboard.py                    # 1 000 000 jobs (a few minutes to fill)
    .venv/bin/python bench/dashboard.py --jobs 100000 --requests 10

One private redis-server (tests.support.redis_server); the queue ``big`` is filled through the real client
(``Client.enqueue_many``, enqueue.lua: records, counters, indexes) with three functions (resize_image 50 %,
send_email 30 %, sync_stock 20 %), two tags (``shop``: 100 values, ``region``: 5 values) and payloads
``{"sku": "SKU-<n>"}``, plus one waiting job of a rare function. Then the oldest ``--finished`` share of
the jobs runs through the real claim and finish scripts (claim.lua, finish.lua, 1 000 jobs a call, no retention
limit), one in ten of them failing, so the completed and failed indexes hold hundreds of thousands of jobs too.
49 small queues make the overview 50 queues wide. Then ``queue-system dashboard`` runs as a subprocess on
loopback and each page and API call is timed over real HTTP (a bearer token; keep-alive), after 2 warm-up calls:
median, p95 and max. The goal: every page and API call under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from queue_system.keys import queue_key  # noqa: E402
from queue_system.serialization import loads  # noqa: E402
from queue_system.spec import FunctionInfo  # noqa: E402
from queue_system.web.auth import new_token  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

GOAL_MS = 200.0
BIG = "big"


FUNCTIONS = ("resize_image",) * 5 + ("send_email",) * 3 + ("sync_stock",) * 2


def request_for(i: int) -> JobRequest:
    tags = {"shop": str(i % 100), "region": f"r{i % 5}"}
    return JobRequest(FUNCTIONS[i % 10], args=({"sku": f"SKU-{i:07d}", "size": i % 7},), tags=tags)


async def fill(url: str, jobs: int, finished: int) -> tuple[str, str]:
    """Fill the queues; returns the id of a job in the middle and of the rare job."""
    async with await Client.connect(QueueConfig(redis_url=url)) as client:
        for name in (*set(FUNCTIONS), "rare_audit"):
            client.register(name, FunctionInfo(queue=BIG))
        middle = ""
        batch = 20_000
        started = time.perf_counter()
        for start in range(0, jobs, batch):
            made = await client.enqueue_many([request_for(i) for i in range(start, min(start + batch, jobs))])
            if start <= jobs // 2 < start + batch:
                middle = made[jobs // 2 - start].job_id
            done = start + len(made)
            rate = done / (time.perf_counter() - started)
            print(f"\r  filled {done:>9,} jobs ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        await finish_oldest(client, finished)
        rare = (await client.enqueue_job("rare_audit", {"sku": "RARE"}, _tags={"shop": "rare"})).job_id
        for q in range(49):
            client.register(f"small_{q}", FunctionInfo(queue=f"queue-{q:02d}"))
            await client.enqueue_many([JobRequest(f"small_{q}", args=(i,)) for i in range(10)])
        return middle, rare


async def finish_oldest(client: Client, count: int) -> None:
    """Claim and finish the ``count`` oldest jobs through claim.lua and finish.lua (a worker's two calls, without
    running anything): the jobs tagged region=r4 with an even shop fail (one in ten), the others complete.
    Keep-count -1: retention keeps every record."""
    prefix, qkey, done, started = client.keys.prefix, queue_key(BIG), 0, time.perf_counter()
    while done < count:
        now = int(time.time() * 1000)
        args = [now, min(1000, count - done), 600_000, "bench", prefix, 1, BIG]
        claimed = await client.scripts.claim(keys=[qkey], args=args, client=client.redis)
        entries = []
        for j in range(1, len(claimed), 11):
            job_id, token, payload, tags = (claimed[j + k].decode() for k in (1, 3, 5, 7))
            tries = int(claimed[j + 4])
            tagged = loads(tags)
            outcome = "failed" if tagged["region"] == "r4" and int(tagged["shop"]) % 2 == 0 else "completed"
            error = "ValueError: bench" if outcome == "failed" else ""
            function = loads(payload)["f"]
            entries.append([job_id, token, outcome, "", "0", "0", BIG, qkey, error, -1, -1, tries, tags, function])
        if not entries:
            break
        finish_args = [prefix, now, 10_000, json.dumps(entries)]
        await client.scripts.finish(keys=[], args=finish_args, client=client.redis)
        done += len(entries)
        rate = done / (time.perf_counter() - started)
        print(f"\r  finished {done:>9,} jobs ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)


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


def measure(http: httpx.Client, path: str, requests: int) -> tuple[float, float, float, int, str]:
    """Median, p95 and max ms, the last status, and what the answer held (an API listing's total and rows)."""
    for _ in range(2):
        http.get(path)
    times, response = [], None
    for _ in range(requests):
        started = time.perf_counter()
        response = http.get(path)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    assert response is not None
    held = ""
    if "/jobs?" in path and path.startswith("/api/") and response.status_code == 200:
        body = response.json()
        held = f"{body['total'] if body['total'] is not None else '?'} / {len(body['jobs'])}"
    return statistics.median(times), p95, times[-1], response.status_code, held


def targets(middle: str, jobs: int, finished: int) -> list[tuple[str, str]]:
    deep = (jobs - finished) // 2 // 50 * 50
    deep_done = finished * 9 // 10 // 2 // 50 * 50
    api = f"/api/v1/queues/{BIG}"
    return [
        ("API  queue counts, all 50 queues", "/api/v1/queues"),
        ("API  one queue's counts", api),
        ("API  counts of a tag", f"{api}?tag=shop=42"),
        ("API  counts of a function", f"{api}?function=send_email"),
        ("API  waiting, first page (50)", f"{api}/jobs?state=waiting"),
        (f"API  waiting, page at offset {deep:,}", f"{api}/jobs?state=waiting&offset={deep}"),
        ("API  waiting, function (30 %)", f"{api}/jobs?state=waiting&function=send_email"),
        (
            f"API  waiting, function, offset {deep // 4:,}",
            f"{api}/jobs?state=waiting&function=send_email&offset={deep // 4}",
        ),
        ("API  waiting, tag (1 in 100)", f"{api}/jobs?state=waiting&tag=shop=42"),
        ("API  waiting, function + tag", f"{api}/jobs?state=waiting&function=sync_stock&tag=region=r3"),
        ("API  waiting, rare function", f"{api}/jobs?state=waiting&function=rare_audit"),
        ("API  completed, first page", f"{api}/jobs?state=completed"),
        (f"API  completed, offset {deep_done:,}", f"{api}/jobs?state=completed&offset={deep_done}"),
        ("API  completed, function (50 %)", f"{api}/jobs?state=completed&function=resize_image"),
        ("API  completed, tag (1 in 100)", f"{api}/jobs?state=completed&tag=shop=7"),
        ("API  completed, function + tag", f"{api}/jobs?state=completed&function=resize_image&tag=region=r1"),
        ("API  failed, tag (1 in 2 of them)", f"{api}/jobs?state=failed&tag=shop=14"),
        ("API  payload text search (recent)", f"{api}/jobs?state=waiting&q=SKU-{jobs - 30:07d}"),
        ("API  text search in a function (budget)", f"{api}/jobs?state=completed&function=sync_stock&q=nowhere"),
        ("API  job detail", f"/api/v1/jobs/{middle}"),
        ("API  throughput, last hour", "/api/v1/throughput"),
        ("page overview (50 queues)", "/"),
        ("page queue, waiting tab", f"/queues/{BIG}?state=waiting"),
        (f"page queue, offset {deep:,}", f"/queues/{BIG}?state=waiting&offset={deep}"),
        ("page queue, completed by function", f"/queues/{BIG}?state=completed&q=function:send_email"),
        ("page queue, completed by tag", f"/queues/{BIG}?state=completed&q=tag:shop=7"),
        ("page queue, search", f"/queues/{BIG}?state=waiting&q=SKU-{jobs - 30:07d}"),
        ("page job", f"/jobs/{middle}"),
        ("page failed store", "/failed"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--finished", type=float, default=0.3, help="share of the jobs run to an end first")
    options = parser.parse_args()
    token, digest = new_token()
    with RedisServer() as server:
        print(f"filling queue {BIG!r} with {options.jobs:,} jobs, and 49 small queues", file=sys.stderr)
        finished = int(options.jobs * options.finished)
        middle, _rare = asyncio.run(fill(server.url, options.jobs, finished))
        port = free_port()
        proc = start_dashboard(server.url, digest, port)
        try:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as http:
                print(
                    f"\n{options.jobs:,} jobs in queue {BIG!r} ({finished:,} of them finished), 50 queues; "
                    f"{options.requests} requests each; load average {os.getloadavg()[0]:.2f}"
                )
                header = f"{'what':<42} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  status  < {GOAL_MS:.0f} ms"
                print(f"{header}  {'total / rows':>16}")
                for label, path in targets(middle, options.jobs, finished):
                    median, p95, worst, status, held = measure(http, path, options.requests)
                    verdict = "yes" if p95 < GOAL_MS else "NO"
                    times = f"{median:>10.1f} {p95:>8.1f} {worst:>8.1f}"
                    print(f"{label:<42} {times}  {status:>6}  {verdict:<8} {held:>16}")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
