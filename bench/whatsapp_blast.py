#!/usr/bin/env python
"""A 10 000-recipient WhatsApp blast through the send core against the loopback Cloud API, in messages/s.

    .venv/bin/python bench/whatsapp_blast.py                          # 10 000 recipients, SQLite and PostgreSQL
    .venv/bin/python bench/whatsapp_blast.py --recipients 2000 --postgres ''
    .venv/bin/python bench/whatsapp_blast.py --concurrency 64 --window 256

What is measured: ``BlastSender.run`` of one blast (``jobs/whatsapp/sender.py``): claim a window of deliveries
(pending → sending), send them ``--concurrency`` at a time over the client's httpx transports, then in one
transaction record the answers and claim the next window, until every recipient is sent; with the seed's pacing
lifted (``LocalPacer(0, 0)``: no per-sender rate, no per-recipient interval). The Cloud API stand-in
(tests/jobs/cloud_api.py) runs in its own process on loopback. Creating the blast (validating 10 000 numbers,
inserting recipients and deliveries) is timed apart. Each run checks that the API accepted exactly one message
per recipient. A goal of the issue: 10 000 in ≤ 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # type: ignore[import-untyped]  # noqa: E402

from jobs.db import Database  # noqa: E402
from jobs.db.migrate import upgrade  # noqa: E402
from jobs.db.whatsapp import MessageStatus  # noqa: E402
from jobs.whatsapp.blasts import BlastDraft, create_blast  # noqa: E402
from jobs.whatsapp.client import CloudApiClient  # noqa: E402
from jobs.whatsapp.pacing import LocalPacer  # noqa: E402
from jobs.whatsapp.sender import BlastSender  # noqa: E402
from tests.jobs.whatsapp_fixtures import add_template, cloud_settings, number  # noqa: E402

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
GOAL_S = 10.0
API_SERVER = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.jobs.cloud_api import CloudApi, start_cloud_api

async def main():
    server = await start_cloud_api(CloudApi(record_requests=False))
    print(server.port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def one_run(db: Database, url: str, args: argparse.Namespace, recipients: int) -> tuple[float, float]:
    template = await add_template(db, body="Halo {{1}}, promo hari ini")
    numbers = [number(i) for i in range(recipients)]
    started = time.perf_counter()
    created = await create_blast(db, BlastDraft("bench", template.name, "id", numbers, ["x"], datetime.now(UTC)))
    created_s = time.perf_counter() - started
    client = CloudApiClient(cloud_settings(url), lanes=args.concurrency)
    sender = BlastSender(db, client, LocalPacer(0, 0), window=args.window, concurrency=args.concurrency)
    try:
        started = time.perf_counter()
        outcome = await sender.run(created.blast_id)
        sent_s = time.perf_counter() - started
    finally:
        await client.close()
    assert outcome.counts == {MessageStatus.SENT: recipients}, outcome.counts
    return created_s, sent_s


async def backend(url: str, schema: str, api_url: str, args: argparse.Namespace) -> list[tuple[float, float]]:
    db = Database(url, schema=schema)
    try:
        await upgrade(db)
        await one_run(db, api_url, args, 200)  # warm-up
        return [await one_run(db, api_url, args, args.recipients) for _ in range(args.runs)]
    finally:
        await db.dispose()


async def main(args: argparse.Namespace) -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    server = subprocess.Popen(
        [sys.executable, "-c", API_SERVER.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        api_url = f"http://127.0.0.1:{int(server.stdout.readline())}"
        results: dict[str, list[tuple[float, float]]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            results["SQLite"] = await backend(f"sqlite+aiosqlite:///{tmp}/bench.db", "", api_url, args)
        if args.postgres:
            results |= await postgres(args, api_url)
    finally:
        server.terminate()
        server.wait(10)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.recipients} recipients, window {args.window}, {args.concurrency} requests at once, pacing lifted")
    print(f"machine load average (1, 5, 15 min): {load} on {os.cpu_count()} cores; median of {args.runs} runs")
    print(f"{'backend':<12} {'create s':>9} {'send s':>8} {'messages/s':>11}  goal ≤ {GOAL_S:g} s")
    for name, runs in results.items():
        create_s = statistics.median(r[0] for r in runs)
        send_s = statistics.median(r[1] for r in runs)
        verdict = "met" if send_s <= GOAL_S else "MISSED"
        print(f"{name:<12} {create_s:>9.2f} {send_s:>8.2f} {args.recipients / send_s:>11.0f}  {verdict}")


async def postgres(args: argparse.Namespace, api_url: str) -> dict[str, list[tuple[float, float]]]:
    try:
        connection = await asyncpg.connect(args.postgres.replace("postgresql+asyncpg://", "postgresql://"), timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        print(f"PostgreSQL at {args.postgres} not reachable ({exc}): skipped")
        return {}
    schema = f"bench_blast_{uuid.uuid4().hex[:8]}"
    await connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        return {"PostgreSQL": await backend(args.postgres, schema, api_url, args)}
    finally:
        await connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="'' to skip PostgreSQL")
    asyncio.run(main(parser.parse_args()))
