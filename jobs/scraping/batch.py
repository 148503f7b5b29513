"""Batch scraping: many product URLs in one job, with its own concurrency, per-URL progress and partial success.

Each try fetches the URLs not settled yet (``progress.BatchProgress``), ``concurrency`` at a time (the hosts'
politeness limits apply on top). Per URL:

    parsed            → buffered; every ``chunk_size`` records go to validate-data, then are marked "scraped"
    404/410           → "not_found"      robots.txt says no → "blocked"      changed shape → "parse_error"
    429/5xx/timeout   → "retrying": the job raises at the end so the queue runs it again later for those URLs.
                        Only 429s (or the host paused by one): ``queue_system.SlowDown`` after the largest
                        Retry-After seen, no try used — the site asked us to wait, nothing failed. Any 5xx or
                        timeout: a counted retry (``Retry`` after the largest Retry-After, else the policy's
                        backoff); on the last try "retrying" URLs become "failed" and the job completes with a
                        partial result instead of failing outright

A URL is marked "scraped" only after its record's follow-up job is enqueued, so a worker dying in between
leaves it "pending" and the next try scrapes it again; it is never marked done with its data lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

from queue_system import JobContext, Retry, SlowDown

from ..db.models import ScrapeStatus
from .errors import BlockedByRobots, PageRefused, RateLimited, ScrapeParseError, ServerError, TransientFetchError
from .http import FetchOptions
from .processing_jobs import forward_records, save_product_data
from .progress import BatchProgress, Outcome
from .records import ProductRecord
from .runtime import ScrapingRuntime
from .scrapers import fetch_product


class BatchIncomplete(TransientFetchError):
    """Some URLs failed transiently; the queue retries the batch, which then fetches only those."""


@dataclass
class _Run:
    ctx: JobContext
    runtime: ScrapingRuntime
    progress: BatchProgress
    options: FetchOptions
    chunk_size: int
    records: list[tuple[str, ProductRecord]] = field(default_factory=list)
    parts: int = 0
    retry_after_s: float | None = None  # the largest Retry-After seen this try (None: no 429)
    failed_otherwise: bool = False  # a URL failed transiently this try for a reason other than a 429
    forwarded: list[str] = field(default_factory=list)

    async def scrape(self, urls: Iterator[str]) -> None:
        for url in urls:  # a shared iterator: each of the concurrent runners takes the next URL
            outcome = await self._one(url)
            if outcome is not None:
                await self.progress.record(outcome)

    async def _one(self, url: str) -> Outcome | None:
        try:
            record = await fetch_product(self.runtime.fetcher, url, self.options)
        except RateLimited as exc:
            self.retry_after_s = max(self.retry_after_s or 0.0, exc.retry_after_s)
            return Outcome(url, ScrapeStatus.RETRYING, 429, str(exc))
        except ServerError as exc:
            self.failed_otherwise = True
            return Outcome(url, ScrapeStatus.RETRYING, exc.status, str(exc))
        except TransientFetchError as exc:
            self.failed_otherwise = True
            return Outcome(url, ScrapeStatus.RETRYING, None, str(exc))
        except ScrapeParseError as exc:
            return Outcome(url, ScrapeStatus.PARSE_ERROR, None, exc.problem)
        except BlockedByRobots as exc:
            return Outcome(url, ScrapeStatus.BLOCKED, None, str(exc))
        except PageRefused as exc:
            return Outcome(url, ScrapeStatus.FAILED, None, str(exc))
        if record is None:
            return Outcome(url, ScrapeStatus.NOT_FOUND, 404)
        self.records.append((url, record))
        if len(self.records) >= self.chunk_size:
            await self.forward()
        return None

    async def forward(self) -> None:
        """Queue the buffered records for validation, then mark their URLs scraped."""
        taken, self.records = self.records, []
        if not taken:
            return
        self.parts += 1
        part = f"{self.ctx.get('job_try', 1)}.{self.parts}"
        job = await forward_records(self.ctx, [r for _, r in taken], "product", save_product_data, part=part)
        if job:
            self.forwarded.append(job)
        for url, _ in taken:
            await self.progress.record(Outcome(url, ScrapeStatus.SCRAPED, 200))


async def scrape_batch(
    ctx: JobContext,
    runtime: ScrapingRuntime,
    urls: list[str],
    *,
    job_id: str,
    concurrency: int,
    options: FetchOptions,
    last_try: bool,
) -> dict[str, Any]:
    progress, todo = await BatchProgress.open(runtime.db, job_id, "product", urls)
    run = _Run(ctx, runtime, progress, options, runtime.settings.chunk_size)
    shared = iter(todo)
    try:
        await _all_or_first_error([run.scrape(shared) for _ in range(max(1, min(concurrency, len(todo))))])
        await run.forward()
    finally:
        counts = await progress.finish(final=last_try)
    retrying = counts.get(ScrapeStatus.RETRYING, 0)
    if retrying and not last_try:
        if run.retry_after_s is not None and not run.failed_otherwise:
            raise SlowDown(retry_after=run.retry_after_s, reason=f"{retrying} URLs rate limited; back later")
        if run.retry_after_s is not None:
            raise Retry(defer=run.retry_after_s, reason=f"{retrying} URLs rate limited; retrying them later")
        raise BatchIncomplete(f"{retrying} of {len(set(urls))} URLs failed transiently; retrying them later")
    return {"job_id": job_id, "fetched": len(todo), "counts": counts, "validate_jobs": run.forwarded}


async def _all_or_first_error(runners: list[Coroutine[Any, Any, None]]) -> None:
    """Run them all; if one raises (a setting is missing, say), stop the others and raise that error itself."""
    tasks = [asyncio.create_task(r) for r in runners]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
