"""A batch scrape's progress, one row per URL, so an API can show it and a retry can resume it.

The batch row is keyed by the job id: every try of the job finds the same batch and only fetches the URLs not
settled yet (pending or retrying), which makes the job resumable and keeps a partial success partial rather than
starting over. Outcomes are written in small groups (every ``FLUSH_EVERY`` URLs or ``FLUSH_AFTER_S``) instead
of one transaction per URL: at hundreds of pages a second, per-URL commits would cost more than the scraping.
A worker that dies loses at most one group of outcomes, which the next try simply fetches again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update

from ..db import Database
from ..db.models import ScrapeBatch, ScrapeItem, ScrapeStatus
from ..db.types import utcnow

FLUSH_EVERY = 200
FLUSH_AFTER_S = 0.5
SETTLED = frozenset(
    {ScrapeStatus.SCRAPED, ScrapeStatus.NOT_FOUND, ScrapeStatus.BLOCKED, ScrapeStatus.PARSE_ERROR, ScrapeStatus.FAILED}
)
_ERROR_LIMIT = 1000


@dataclass(frozen=True)
class Outcome:
    url: str
    status: ScrapeStatus
    http_status: int | None = None
    error: str | None = None


class BatchProgress:
    def __init__(self, db: Database, batch_id: int) -> None:
        self.db = db
        self.batch_id = batch_id
        self._pending: list[Outcome] = []
        self._last_flush = time.monotonic()

    @classmethod
    async def open(cls, db: Database, job_id: str, kind: str, urls: Sequence[str]) -> tuple[BatchProgress, list[str]]:
        """The batch of this job (created on its first try) and the URLs still to fetch, in input order."""
        unique = list(dict.fromkeys(urls))
        async with db.session() as session, session.begin():
            batch_id = await session.scalar(select(ScrapeBatch.id).where(ScrapeBatch.job_id == job_id))
            if batch_id is None:
                created = await session.execute(
                    insert(ScrapeBatch).values(job_id=job_id, kind=kind, total=len(unique)).returning(ScrapeBatch.id)
                )
                batch_id = created.scalar_one()
                now = utcnow()
                rows = [
                    {"batch_id": batch_id, "url": u, "status": ScrapeStatus.PENDING, "updated_at": now} for u in unique
                ]
                if rows:
                    await session.execute(insert(ScrapeItem), rows)
                return cls(db, batch_id), unique
            settled = set(
                await session.scalars(
                    select(ScrapeItem.url).where(ScrapeItem.batch_id == batch_id, ScrapeItem.status.in_(SETTLED))
                )
            )
        return cls(db, batch_id), [u for u in unique if u not in settled]

    async def record(self, outcome: Outcome) -> None:
        self._pending.append(outcome)
        if len(self._pending) >= FLUSH_EVERY or time.monotonic() - self._last_flush >= FLUSH_AFTER_S:
            await self.flush()

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        self._last_flush = time.monotonic()
        if not pending:
            return
        now = utcnow()
        async with self.db.session() as session, session.begin():
            items = cast(Table, ScrapeItem.__table__)  # Core, not the ORM: an executemany UPDATE keyed by (batch, url)
            await session.execute(
                update(items)
                .where(items.c.batch_id == self.batch_id, items.c.url == bindparam("u"))
                .values(
                    status=bindparam("s"),
                    http_status=bindparam("h"),
                    error=bindparam("e"),
                    attempts=items.c.attempts + 1,
                    updated_at=now,
                ),
                [{"u": o.url, "s": o.status, "h": o.http_status, "e": _clip(o.error)} for o in pending],
            )

    async def finish(self, *, final: bool) -> dict[str, int]:
        """Flush, settle what is left as failed on the last try, and close the batch; returns counts per status."""
        await self.flush()
        async with self.db.session() as session, session.begin():
            if final:
                await session.execute(
                    update(ScrapeItem)
                    .where(ScrapeItem.batch_id == self.batch_id, ScrapeItem.status.not_in(SETTLED))
                    .values(status=ScrapeStatus.FAILED, updated_at=utcnow())
                )
            counts = await _counts(session, self.batch_id)
            done = all(status in SETTLED for status in counts)
            if done:
                status = "completed" if set(counts) <= {ScrapeStatus.SCRAPED} else "partial"
                await session.execute(
                    update(ScrapeBatch)
                    .where(ScrapeBatch.id == self.batch_id)
                    .values(status=status, finished_at=utcnow())
                )
        return counts


async def batch_progress(db: Database, job_id: str) -> dict[str, Any] | None:
    """What an API shows for a batch: its status, total and counts per URL status (None if unknown)."""
    async with db.session() as session:
        batch = await session.scalar(select(ScrapeBatch).where(ScrapeBatch.job_id == job_id))
        if batch is None:
            return None
        counts = await _counts(session, batch.id)
    return {"job_id": job_id, "status": batch.status, "total": batch.total, "counts": counts}


async def _counts(session: Any, batch_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(ScrapeItem.status, func.count()).where(ScrapeItem.batch_id == batch_id).group_by(ScrapeItem.status)
    )
    return {str(status): int(count) for status, count in rows.all()}


def _clip(text: str | None) -> str | None:
    return text if text is None or len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 1] + "…"
