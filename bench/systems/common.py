"""What every system adapter shares: the job bodies, the job recorder, the producer scenarios and the tiny CLI.

Each adapter (``qs_system.py``, ``arq_system.py``, ...) runs in its own system's venv, so this module uses the
standard library only. The harness (``bench/throughput.py``) talks to an adapter through its command line,
its stdout (one JSON object on the last line) and Redis:

    python <adapter>.py produce --scenario enqueue|bulk|fill|latency|probe --job noop|sleep_10ms --n N
    python <adapter>.py worker --concurrency 100 [--poll-delay S]
    python <adapter>.py versions

Every job appends one line ``"<i> <sent> <start> <end>"`` (wall-clock seconds) to the Redis list ``bench:records``.
The lines are buffered in the worker and pushed in one RPUSH once no job has ended for ``FLUSH_QUIET_S`` (or
``FLUSH_MAX_LINES`` are waiting), so measuring costs a job no Redis round trip of its own, costs every system the
same, and does not land on the pickups it measures: a flush 5 ms after each job (the gap between the latency
scenario's jobs) fell on the next job's pickup, in the worker process, every time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

RECORDS_KEY = "bench:records"
JOB_NOOP = "noop"
JOB_SLEEP = "sleep_10ms"
JOBS = (JOB_NOOP, JOB_SLEEP)
SLEEP_S = 0.01
BULK_CHUNK = 1000  # jobs per bulk call (or per concurrent batch where a system has no bulk call)
LATENCY_GAP_S = 0.005
PROBE_ID = -1  # the job number of the readiness probe
FLUSH_QUIET_S = 0.1  # the recorder pushes its lines once no job has ended for this long...
FLUSH_MAX_LINES = 5000  # ...or this many are waiting

Item = tuple[int, float]  # (job number, enqueue wall time; 0.0 when the scenario does not need it)


def redis_url() -> str:
    """The benchmark's Redis, set by the harness."""
    return os.environ["BENCH_REDIS_URL"]


def concurrency() -> int:
    """The worker concurrency the ``worker`` command was given (read by settings modules at import)."""
    return int(os.environ.get("BENCH_CONCURRENCY", "100"))


class Recorder:
    """Collects one line per finished job and RPUSHes them in batches over its own raw RESP connection."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._flusher: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    def add(self, i: int, sent: float, start: float, end: float) -> None:
        self._pending.append(f"{i} {sent!r} {start!r} {end!r}")
        if self._flusher is None or self._flusher.done():
            self._wake = asyncio.Event()
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever(self._wake))
        assert self._wake is not None
        self._wake.set()

    async def _flush_forever(self, wake: asyncio.Event) -> None:
        url = urlsplit(redis_url())
        reader, writer = await asyncio.open_connection(url.hostname or "127.0.0.1", url.port or 6379)
        while True:
            await wake.wait()
            wake.clear()
            while len(self._pending) < FLUSH_MAX_LINES:  # wait for a quiet moment
                await asyncio.sleep(FLUSH_QUIET_S)
                if not wake.is_set():
                    break
                wake.clear()
            batch, self._pending = self._pending, []
            await _command(reader, writer, ["RPUSH", RECORDS_KEY, *batch])


async def _command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, args: Sequence[str]) -> None:
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        parts += [f"${len(data)}\r\n".encode(), data, b"\r\n"]
    writer.write(b"".join(parts))
    await writer.drain()
    reply = await reader.readline()
    if not reply.startswith(b":"):
        raise RuntimeError(f"unexpected Redis reply {reply!r}")


RECORDER = Recorder()


async def run_job(job: str, i: int, sent: float) -> None:
    """The body of every benchmark job: nothing (``noop``) or a 10 ms sleep, timed and recorded."""
    start = time.time()
    if job == JOB_SLEEP:
        await asyncio.sleep(SLEEP_S)
    RECORDER.add(i, sent, start, time.time())


class Adapter(ABC):
    """One system's producer and worker, behind the same small interface."""

    #: distributions whose installed versions ``versions`` reports
    packages: tuple[str, ...] = ()
    #: how ``bulk`` enqueues, shown in the results; None when the system has no bulk enqueue
    bulk_method: str | None = None
    supports_poll_delay = False

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def enqueue(self, job: str, i: int, sent: float) -> None: ...

    async def enqueue_bulk(self, job: str, items: Sequence[Item]) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    @abstractmethod
    def run_worker(self, concurrency: int, poll_delay: float | None) -> None:
        """Run the system's own worker command in this process, until SIGTERM."""


async def enqueue_concurrently(adapter: Adapter, job: str, items: Sequence[Item]) -> None:
    """For systems without a bulk call: all of ``items`` enqueued at once with asyncio.gather."""
    await asyncio.gather(*(adapter.enqueue(job, i, sent) for i, sent in items))


def chunks(items: Sequence[Item], size: int = BULK_CHUNK) -> list[Sequence[Item]]:
    return [items[k : k + size] for k in range(0, len(items), size)]


async def produce(adapter: Adapter, scenario: str, job: str, n: int) -> dict[str, Any]:
    """Run one producer scenario; the result is printed as JSON by :func:`main`."""
    if scenario == "bulk" and adapter.bulk_method is None:
        return {"na": "no bulk enqueue API"}
    await adapter.connect()
    try:
        items: list[Item] = [(i, 0.0) for i in range(n)]
        started = time.perf_counter()
        if scenario == "enqueue":
            for i, sent in items:
                await adapter.enqueue(job, i, sent)
        elif scenario == "bulk":
            for chunk in chunks(items):
                await adapter.enqueue_bulk(job, chunk)
        elif scenario == "fill":  # pre-enqueue for the drain scenarios, the fastest way the system has
            for chunk in chunks(items):
                if adapter.bulk_method is None:
                    await enqueue_concurrently(adapter, job, chunk)
                else:
                    await adapter.enqueue_bulk(job, chunk)
        elif scenario == "latency":
            for i in range(n):
                await asyncio.sleep(max(0.0, started + i * LATENCY_GAP_S - time.perf_counter()))
                await adapter.enqueue(job, i, time.time())
        elif scenario == "probe":
            await adapter.enqueue(job, PROBE_ID, time.time())
        else:
            raise SystemExit(f"unknown scenario {scenario!r}")
        seconds = time.perf_counter() - started
    finally:
        await adapter.close()
    return {"n": n, "seconds": seconds, "bulk_method": adapter.bulk_method}


def versions(adapter: Adapter) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in adapter.packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def main(adapter: Adapter) -> None:
    parser = argparse.ArgumentParser(description="One system's side of the queue benchmark.")
    commands = parser.add_subparsers(dest="command", required=True)
    prod = commands.add_parser("produce", help="enqueue jobs and print {n, seconds} as JSON")
    prod.add_argument("--scenario", required=True, choices=["enqueue", "bulk", "fill", "latency", "probe"])
    prod.add_argument("--job", default=JOB_NOOP, choices=JOBS)
    prod.add_argument("--n", type=int, default=1)
    work = commands.add_parser("worker", help="run the system's worker until SIGTERM")
    work.add_argument("--concurrency", type=int, default=100)
    work.add_argument("--poll-delay", type=float, default=None)
    commands.add_parser("versions", help="print the installed versions as JSON")
    args = parser.parse_args()

    if args.command == "produce":
        print(json.dumps(asyncio.run(produce(adapter, args.scenario, args.job, args.n))), flush=True)
    elif args.command == "versions":
        print(json.dumps(versions(adapter)), flush=True)
    else:
        if args.poll_delay is not None and not adapter.supports_poll_delay:
            raise SystemExit("--poll-delay is not a setting of this system")
        os.environ["BENCH_CONCURRENCY"] = str(args.concurrency)
        sys.stdout.flush()
        adapter.run_worker(args.concurrency, args.poll_delay)
