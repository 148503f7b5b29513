#!/usr/bin/env python
"""The worker's CPU per call handed to the certificate render processes: one call per hand-off (a plain
``ProcessPoolExecutor``, as ``cpu_pool`` did before) against ``CpuPool``'s batches, side by side.

Each call is 3 ms of CPU in a pool process (about a certificate's render), made by ``--concurrency`` callers at
once (the demo's generate stage runs 10 jobs at a time) on a pool of two processes; the rounds alternate so a
change in machine load hits both alike. What is measured is this process's CPU (all its threads: the executor's
manager and feeder threads wake for every hand-off) per call, and the wall time per call.

    .venv/bin/python bench/render_handoff.py
    .venv/bin/python bench/render_handoff.py --calls 1200 --concurrency 30 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jobs.certificates.cpu_pool import CpuPool, FontSource  # noqa: E402
from jobs.certificates.fonts import find_font, load_font  # noqa: E402

PROCESSES = 2
WORK_S = 0.003


def busy(index: int) -> tuple[str, int]:
    """3 ms of CPU and a small answer, like a render's digest and size."""
    started = time.perf_counter()
    while time.perf_counter() - started < WORK_S:
        pass
    return "0" * 64, index


async def one_per_hand_off(pool: ProcessPoolExecutor, calls: int, concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)

    async def call(index: int) -> tuple[str, int]:
        async with gate:
            return await loop.run_in_executor(pool, busy, index)

    await asyncio.gather(*(call(i) for i in range(calls)))


async def batched(pool: CpuPool, calls: int, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def call(index: int) -> tuple[str, int]:
        async with gate:
            return await pool.run(busy, index)

    await asyncio.gather(*(call(i) for i in range(calls)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        load_font(find_font(), Path(cache))
        plain = ProcessPoolExecutor(PROCESSES, mp_context=multiprocessing.get_context("spawn"))
        pool = CpuPool(PROCESSES, FontSource(None, Path(cache)))
        pool.start()
        await asyncio.gather(*(asyncio.get_running_loop().run_in_executor(plain, os.getpid) for _ in range(4)))
        await batched(pool, 20, args.concurrency)  # both pools' processes up and warm
        print(f"{args.calls} calls of {WORK_S * 1000:.0f} ms CPU, {args.concurrency} at a time, {PROCESSES} processes")
        try:
            for round_ in range(1, args.rounds + 1):
                line = [f"round {round_}:"]
                for label, run in (
                    ("one per hand-off", lambda: one_per_hand_off(plain, args.calls, args.concurrency)),
                    ("CpuPool batches", lambda: batched(pool, args.calls, args.concurrency)),
                ):
                    batches_before = pool.batches
                    cpu, wall = time.process_time(), time.perf_counter()
                    await run()
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                    handoffs = pool.batches - batches_before if label == "CpuPool batches" else args.calls
                    per_call_us, per_call_ms = cpu / args.calls * 1e6, wall / args.calls * 1e3
                    line.append(f"{label}: {per_call_us:4.0f} us CPU, {per_call_ms:.2f} ms wall per call")
                    line.append(f"({handoffs} hand-offs)")
                print("  ".join(line))
        finally:
            plain.shutdown()
            await asyncio.to_thread(pool.close)


if __name__ == "__main__":
    asyncio.run(main())
