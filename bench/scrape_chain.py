#!/usr/bin/env python
"""Batch scraping through the whole chain — scrape → validate → save → index — with the real worker, in pages/s.

    .venv/bin/python bench/scrape_chain.py                        # 2 000 pages, SQLite, 2 worker processes
    .venv/bin/python bench/scrape_chain.py --workers 1 --runs 1   # one worker process
    .venv/bin/python bench/scrape_chain.py --database postgresql+asyncpg://postgres@127.0.0.1:5432/test

What runs, all on loopback: a private redis-server; the fixture shop (tests/jobs/scraping_site.py: product pages
with JSON-LD) in its own process; ``--workers`` processes of the real worker command,
``queue-system worker settings.WorkerSettings -q scraping -q data-processing``, configured through the
environment as in production (per-host politeness opened up: ``SCRAPER_HOST_RATE_PER_S=0``, and
``--host-concurrency`` requests in flight per process; a real site gets the defaults, 2 requests/s).

A warm-up run of ``--warmup`` pages goes first, unmeasured (connection pools filling, SQLAlchemy compiling
its statements, robots.txt fetched). The pages go in as ``batch-scraping`` jobs of ``--batch-size`` URLs,
robots.txt respected. The clock starts before the first enqueue, once the workers are up, and stops when the
scraping and data-processing queues hold no job any more (waiting, deferred or running), i.e. when the last
search-index job has finished. Each run then checks that every page became a product row and a search document.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

from jobs.db import Database  # noqa: E402
from jobs.db.migrate import upgrade  # noqa: E402
from jobs.db.models import Product  # noqa: E402
from jobs.scraping import batch_scraping  # noqa: E402
from queue_system import Client, QueueConfig  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402

QUEUES = ("scraping", "data-processing")
SHOP_SERVER = """
import asyncio, sys
sys.path.insert(0, {root!r})
from tests.jobs.scraping_http import LoopbackServer
from tests.jobs.scraping_site import FixtureShop

async def main():
    server = await LoopbackServer(FixtureShop(catalog_size=1_000_000, logging=False)).start()
    print(server.port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@contextlib.contextmanager
def shop_process() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SHOP_SERVER.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        yield f"http://127.0.0.1:{int(proc.stdout.readline())}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def worker_processes(count: int, env: dict[str, str], concurrency: int, logs: Path) -> Iterator[None]:
    """Start the workers and wait until each has opened its runtime (database, HTTP clients)."""
    command = [str(ROOT / ".venv/bin/queue-system"), "worker", "settings.WorkerSettings", "-c", str(concurrency)]
    for queue in QUEUES:
        command += ["-q", queue]
    files = [logs / f"worker-{n}.log" for n in range(count)]
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stderr=f.open("w")) for f in files]
    try:
        deadline = time.monotonic() + 60
        while not all("scraping.runtime_opened" in f.read_text() for f in files):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit("the workers did not start:\n" + "\n".join(f.read_text()[-2000:] for f in files))
            time.sleep(0.05)
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for n, proc in enumerate(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # seen once: an idle worker that never finished its shutdown
                print(f"worker {n} did not exit 20 s after SIGTERM; killed (log: {files[n]})", file=sys.stderr)
                proc.kill()
                proc.wait()


async def prepare(database_url: str, schema: str) -> None:
    if schema:  # PostgreSQL: a schema of our own, dropped afterwards (see main)
        async with Database(database_url).engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(database_url, schema=schema)
    await upgrade(db)
    async with db.session() as session, session.begin():
        for table in ("product_search", "scrape_batches", "price_history", "products"):
            await session.execute(text(f"DELETE FROM {table}"))
    await db.dispose()


async def drop_schema(database_url: str, schema: str) -> None:
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    await database.dispose()


async def one_run(
    args: argparse.Namespace, config: QueueConfig, shop_url: str, database: tuple[str, str], run: int
) -> float:
    """Run ``run`` (0 is the unmeasured warm-up of ``--warmup`` pages) and return its pages/s."""
    pages = args.warmup if run == 0 else args.pages
    offset = 1 + (run and args.warmup + (run - 1) * args.pages)  # new products each run: every save inserts
    urls = [f"{shop_url}/product/{(i % 3) + 1}/{i}" for i in range(offset, offset + pages)]
    db = Database(database[0], schema=database[1])
    async with await Client.connect(config) as client:
        started = time.perf_counter()
        options = batch_scraping.options(client=client)
        for start in range(0, len(urls), args.batch_size):
            await options.enqueue(urls[start : start + args.batch_size], concurrency=args.batch_concurrency)
        while sum([await client.queue_size(q) for q in QUEUES]):
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        failed = await client.failed.count()
    async with db.session() as session:
        products = await session.scalar(select(func.count()).select_from(Product).where(Product.url.in_(urls)))
        indexed = await session.scalar(text("SELECT count(*) FROM product_search"))
    await db.dispose()
    if products != pages or indexed != offset + pages - 1 or failed:
        raise SystemExit(f"run {run}: {products} products, {indexed} documents, {failed} failed jobs")
    rate = pages / elapsed
    label = "warm-up" if run == 0 else f"run {run}"
    print(f"{label}: {pages} pages in {elapsed:.2f} s = {rate:,.0f} pages/s", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=200, help="pages of an unmeasured first run")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=20, help="jobs at once per worker process")
    parser.add_argument("--batch-size", type=int, default=100, help="URLs per batch-scraping job")
    parser.add_argument("--batch-concurrency", type=int, default=4, help="pages in flight per batch")
    parser.add_argument("--host-concurrency", type=int, default=4, help="requests in flight to the shop per process")
    parser.add_argument("--chunk-size", type=int, default=100, help="records per validate/save/index job")
    parser.add_argument("--database", default="", help="a DATABASE_URL; default: SQLite in a temp dir")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="qs-bench-scrape-"))
    database_url = args.database or f"sqlite+aiosqlite:///{scratch}/app.db"
    backend = Database(database_url).url.get_backend_name()
    schema = f"qs_bench_scrape_{os.getpid()}" if backend == "postgresql" else ""
    asyncio.run(prepare(database_url, schema))
    try:
        run_all(args, scratch, database_url, schema, backend)
    finally:
        if schema:
            asyncio.run(drop_schema(database_url, schema))


def run_all(args: argparse.Namespace, scratch: Path, database_url: str, schema: str, backend: str) -> None:
    print(
        f"scrape → validate → save → index: {args.pages} pages in batches of {args.batch_size}, {args.workers} "
        f"worker process(es) x {args.concurrency} jobs, {backend}, {os.cpu_count()} CPUs",
        flush=True,
    )
    with RedisServer() as redis_server, shop_process() as shop_url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("QS_", "SCRAPER_"))}
        env |= {
            "REDIS_URL": redis_server.url,
            "DATABASE_URL": database_url,
            "DATABASE_SCHEMA": schema,
            "APP_DATA_DIR": str(scratch),
            "QS_LOG_FORMAT": "json",
            "SCRAPER_HOST_RATE_PER_S": "0",
            "SCRAPER_HOST_CONCURRENCY": str(args.host_concurrency),
            "SCRAPER_CHUNK_SIZE": str(args.chunk_size),
        }
        config = QueueConfig(redis_url=redis_server.url, env="test")
        with worker_processes(args.workers, env, args.concurrency, scratch):
            database = (database_url, schema)
            runs = range(0 if args.warmup else 1, args.runs + 1)
            rates = [asyncio.run(one_run(args, config, shop_url, database, run)) for run in runs][-args.runs :]
    print(f"median: {statistics.median(rates):,.0f} pages/s (best {max(rates):,.0f})")


if __name__ == "__main__":
    main()
