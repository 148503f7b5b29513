"""The send core of a blast: message every recipient not yet sent, at most once each, and settle the blast.

A run goes window by window (``window`` deliveries at a time, in id order)::

    claim      pending → sending (attempts + 1), UPDATE … RETURNING, so two runs of the same blast can never
               claim the same delivery
    send       up to ``concurrency`` requests at once, each paced by the ``Pacer``
    record     sending → sent (wamid) / failed (4xx code and message) / pending (5xx, no connection,
               throttled: known not taken) / unknown (no answer: maybe taken), one executemany UPDATE

Between two windows one transaction records the last window's answers and claims the next one, and refreshes
the blast's counters at most every ``counts_every_s`` (the live counts are the ledger's; the counters are for
lists): three commits per window were an eighth of a 10 000-recipient blast's time. The next window is only
claimed after the last one is recorded, so a dead run leaves at most one window in "sending".

**At most once.** The Cloud API has no idempotency key: the same request sent twice delivers twice. So a
delivery found in "sending" when a run starts (its worker died between claim and record) becomes "unknown" and
is never resent automatically; its ``biz_opaque_callback_data`` (the delivery's key) lets a person match it with
the status webhooks and ``release_unknown_deliveries`` the ones that did not arrive. A duplicate marketing
message cannot be taken back (and is billed); a missing one can be sent later. The doubt is bounded by one
window of a dead worker; a 429 / 5xx / refused connection is known not to have delivered and is retried.

Throttling (429, 130429, 80007 …) pauses the pacer for Retry-After and sends the same message again within the
run, without counting a recipient attempt; a pause longer than ``max_throttle_wait_s`` ends the run with
``BlastThrottled`` (the job retries after it). A 5xx leaves the delivery pending for the next run (the job's
retry) until ``max_attempts``; a 4xx fails that recipient with the API's code and message, unless it concerns the
whole blast (bad token, template missing or paused), which fails the blast and sends nothing more.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db import Database
from ..db.types import utcnow
from ..db.whatsapp import (
    BlastStatus,
    MessageStatus,
    TemplateStatus,
    WhatsAppBlast,
    WhatsAppDelivery,
    WhatsAppTemplate,
    blast_counts,
)
from .client import CloudApiClient
from .errors import (
    BlastIncomplete,
    BlastNotFound,
    BlastThrottled,
    CloudApiError,
    CloudNoAnswer,
    CloudRequestError,
    Throttled,
)
from .pacing import Pacer

log = structlog.stdlib.get_logger(__name__)
# How early a run may start before the blast's send_at and still send: the clock difference between the host that
# scheduled it and the worker's (a run earlier than this was claimed before its time was moved).
EARLY_TOLERANCE = timedelta(seconds=1)
_DELIVERIES: Table = WhatsAppDelivery.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class BlastOutcome:
    blast_id: int
    status: str  # the blast's status after this run
    sent_now: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # delivery status → count
    skipped: str | None = None  # why this run did nothing (stale version, cancelled, finished)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Plan:
    blast_id: int
    uid: str
    template: str
    language: str
    variables: list[str]


@dataclass(frozen=True)
class _Result:
    delivery_id: int
    status: MessageStatus
    message_id: str | None = None
    error: CloudApiError | None = None
    refund: bool = False  # nothing was sent (throttled, or stopped before sending): the attempt does not count


@dataclass
class _Stop:
    """Why a run stops early: the blast cannot go out (``fatal``), or the API wants a long pause."""

    error: CloudApiError
    fatal: bool


class BlastSender:
    def __init__(
        self,
        db: Database,
        api: CloudApiClient,
        pacer: Pacer,
        *,
        window: int = 64,
        concurrency: int = 16,
        max_attempts: int = 3,
        max_throttle_wait_s: float = 30.0,
        max_throttles_per_message: int = 10,
        counts_every_s: float = 1.0,
    ) -> None:
        self.db = db
        self.api = api
        self.pacer = pacer
        self.window = window
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.max_throttle_wait_s = max_throttle_wait_s
        self.max_throttles_per_message = max_throttles_per_message
        self.counts_every_s = counts_every_s

    async def run(self, blast_id: int, version: int | None = None) -> BlastOutcome:
        """Send the blast's pending deliveries; ``version`` (the job's) must still be the blast's, if given."""
        plan = await self._start(blast_id, version)
        if isinstance(plan, BlastOutcome):
            return plan
        log.info("whatsapp.blast_started", blast_id=blast_id)
        stop: _Stop | None = None
        crash: BaseException | None = None
        results: list[_Result] = []
        cursor, sent_now, counts_due = 0, 0, time.monotonic()
        while True:
            refresh = time.monotonic() >= counts_due
            go_on = stop is None and crash is None
            window = await self._between_windows(blast_id, results, cursor, claim=go_on, counts=refresh)
            counts_due = time.monotonic() + self.counts_every_s if refresh else counts_due
            sent_now += sum(1 for r in results if r.status == MessageStatus.SENT)
            if crash is not None:
                raise crash
            if window is None:
                break
            cursor, claimed = window
            results, stop, crash = await self._send_window(plan, claimed)
        return await self._finish(plan, stop, sent_now)

    async def _start(self, blast_id: int, version: int | None) -> _Plan | BlastOutcome:
        async with self.db.session() as session, session.begin():
            blast = await session.get(WhatsAppBlast, blast_id, with_for_update=True)
            if blast is None:
                raise BlastNotFound(f"no blast {blast_id}")
            skipped = _why_skip(blast, version)
            if skipped:
                log.info("whatsapp.blast_skipped", blast_id=blast_id, reason=skipped, status=blast.status)
                return BlastOutcome(blast_id, blast.status, skipped=skipped)
            template = await session.get(WhatsAppTemplate, blast.template_id)
            if template is None or template.status != TemplateStatus.APPROVED:
                state = "missing" if template is None else template.status
                _settle(blast, BlastStatus.FAILED, f"the template is {state}, not APPROVED: nothing was sent")
                return BlastOutcome(blast_id, blast.status)
            blast.status = BlastStatus.PROCESSING
            blast.started_at = blast.started_at or utcnow()
            await _interrupted_to_unknown(session, blast_id)
            return _Plan(blast.id, blast.uid, template.name, blast.language, list(blast.variables))

    async def _between_windows(
        self, blast_id: int, results: list[_Result], cursor: int, *, claim: bool, counts: bool
    ) -> tuple[int, list[tuple[int, str]]] | None:
        """One transaction: record ``results``, refresh the counters if ``counts``, claim the next window if
        ``claim``: the new cursor and the claimed [(delivery id, phone)], or None when the run is over."""
        async with self.db.session() as session, session.begin():
            await _record(session, results)
            if counts:
                await _store_counts(session, blast_id)
            return await self._claim(session, blast_id, cursor) if claim else None

    async def _claim(
        self, session: AsyncSession, blast_id: int, cursor: int
    ) -> tuple[int, list[tuple[int, str]]] | None:
        """The next window: (new cursor, [(delivery id, phone)] claimed by this run); None when none is pending."""
        ids = (
            select(WhatsAppDelivery.id)
            .where(
                WhatsAppDelivery.blast_id == blast_id,
                WhatsAppDelivery.status == MessageStatus.PENDING,
                WhatsAppDelivery.id > cursor,
            )
            .order_by(WhatsAppDelivery.id)
            .limit(self.window)
            .with_for_update(skip_locked=True)  # PostgreSQL: a concurrent run takes other rows, no deadlock
        )
        chosen = list(await session.scalars(ids))
        if not chosen:
            return None
        now = utcnow()
        rows = await session.execute(
            update(WhatsAppDelivery)
            .where(WhatsAppDelivery.id.in_(chosen), WhatsAppDelivery.status == MessageStatus.PENDING)
            .values(
                status=MessageStatus.SENDING,
                attempts=WhatsAppDelivery.attempts + 1,
                sending_started_at=now,
                updated_at=now,
            )
            .returning(WhatsAppDelivery.id, WhatsAppDelivery.phone)
        )
        # Another run may have claimed some of them first: those are not ours to send.
        return max(chosen), sorted((row[0], row[1]) for row in rows)

    async def _send_window(
        self, plan: _Plan, claimed: list[tuple[int, str]]
    ) -> tuple[list[_Result], _Stop | None, BaseException | None]:
        gate = asyncio.Semaphore(self.concurrency)
        stop: list[_Stop] = []

        async def one(delivery_id: int, phone: str) -> _Result:
            async with gate:
                return await self._send_one(plan, delivery_id, phone, stop)

        outcomes = await asyncio.gather(*(one(i, p) for i, p in claimed), return_exceptions=True)
        results = [o for o in outcomes if isinstance(o, _Result)]
        crash = next((o for o in outcomes if isinstance(o, BaseException)), None)
        return results, (stop[0] if stop else None), crash

    async def _send_one(self, plan: _Plan, delivery_id: int, phone: str, stop: list[_Stop]) -> _Result:
        throttles = 0
        while True:
            if not stop:
                await self.pacer.before_send(phone)
            if stop:  # the blast cannot go on: this message is not sent, and keeps its attempt
                return _Result(delivery_id, MessageStatus.PENDING, refund=True)
            try:
                message_id = await self.api.send_template(
                    phone, plan.template, plan.language, plan.variables, callback_data=f"{plan.uid}:{delivery_id}"
                )
            except Throttled as exc:
                throttles += 1
                if exc.retry_after_s > self.max_throttle_wait_s or throttles >= self.max_throttles_per_message:
                    # a long pause is the job's (SlowDown), not the pacer's: the run's other sends stop at once
                    stop.append(_Stop(exc, fatal=False))
                    return _Result(delivery_id, MessageStatus.PENDING, error=exc, refund=True)
                await self.pacer.throttled(exc.retry_after_s, phone)
                log.warning("whatsapp.throttled", blast_id=plan.blast_id, retry_after_s=exc.retry_after_s)
                continue
            except CloudRequestError as exc:
                if exc.blast_fatal:
                    stop.append(_Stop(exc, fatal=True))
                    return _Result(delivery_id, MessageStatus.PENDING, error=exc, refund=True)
                return _Result(delivery_id, MessageStatus.FAILED, error=exc)
            except CloudNoAnswer as exc:
                return _Result(delivery_id, MessageStatus.UNKNOWN, error=exc)
            except CloudApiError as exc:  # 5xx, unreachable: not taken, sent again by a later run
                return _Result(delivery_id, MessageStatus.PENDING, error=exc)
            return _Result(delivery_id, MessageStatus.SENT, message_id=message_id)

    async def _finish(self, plan: _Plan, stop: _Stop | None, sent_now: int) -> BlastOutcome:
        if stop is not None and not stop.fatal:
            retry_after = stop.error.retry_after_s if isinstance(stop.error, Throttled) else self.max_throttle_wait_s
            raise BlastThrottled(f"blast {plan.blast_id} paused by the Cloud API: {stop.error}", retry_after)
        async with self.db.session() as session, session.begin():
            blast = await session.get(WhatsAppBlast, plan.blast_id, with_for_update=True)
            assert blast is not None
            if stop is None:
                await self._give_up_spent(session, plan.blast_id)
            counts = await _counts(session, plan.blast_id)
            pending = counts.get(MessageStatus.PENDING, 0)
            if stop is None and pending:
                left = pending
            else:
                left = 0
                _settle(blast, *_verdict(counts, stop))
            for name, value in blast_counts(counts).items():
                setattr(blast, name, value)
            status = blast.status
        if left:
            raise BlastIncomplete(f"blast {plan.blast_id}: {left} recipient(s) to retry after server errors")
        log.info("whatsapp.blast_finished", blast_id=plan.blast_id, status=status, sent_now=sent_now, **counts)
        return BlastOutcome(plan.blast_id, status, sent_now, counts)

    async def _give_up_spent(self, session: AsyncSession, blast_id: int) -> None:
        """Pending deliveries that used their last attempt fail, keeping their last error."""
        await session.execute(
            update(WhatsAppDelivery)
            .where(
                WhatsAppDelivery.blast_id == blast_id,
                WhatsAppDelivery.status == MessageStatus.PENDING,
                WhatsAppDelivery.attempts >= self.max_attempts,
            )
            .values(status=MessageStatus.FAILED, updated_at=utcnow())
        )


def _why_skip(blast: WhatsAppBlast, version: int | None) -> str | None:
    if version is not None and blast.schedule_version != version:
        return f"stale job: the blast is at schedule version {blast.schedule_version}, this job is for {version}"
    if blast.status == BlastStatus.SCHEDULED and blast.send_at and blast.send_at > utcnow() + EARLY_TOLERANCE:
        # its time was moved after this job was claimed: the moved (or a new) job sends it then
        return f"not due yet: the blast is scheduled for {blast.send_at.isoformat()}"
    if blast.status in (BlastStatus.SCHEDULED, BlastStatus.PROCESSING):
        return None
    return f"the blast is {blast.status}"


def _verdict(counts: dict[str, int], stop: _Stop | None) -> tuple[BlastStatus, str | None]:
    if stop is not None:
        return BlastStatus.FAILED, f"the Cloud API refused the blast: {stop.error}"
    if counts.get(MessageStatus.FAILED, 0) and not counts.get(MessageStatus.SENT, 0):
        return BlastStatus.FAILED, "no recipient could be messaged (see the deliveries' errors)"
    return BlastStatus.COMPLETED, None


def _settle(blast: WhatsAppBlast, status: BlastStatus, error: str | None) -> None:
    blast.status = status
    blast.last_error = error[:1000] if error else None
    blast.finished_at = utcnow()


async def _interrupted_to_unknown(session: AsyncSession, blast_id: int) -> None:
    result = await session.execute(
        update(WhatsAppDelivery)
        .where(WhatsAppDelivery.blast_id == blast_id, WhatsAppDelivery.status == MessageStatus.SENDING)
        .values(
            status=MessageStatus.UNKNOWN,
            error_message="an earlier run stopped between sending and recording: maybe delivered, not resent",
            updated_at=utcnow(),
        )
    )
    if getattr(result, "rowcount", 0):
        log.warning("whatsapp.deliveries_unknown", blast_id=blast_id, count=result.rowcount)  # type: ignore[attr-defined]


async def _record(session: AsyncSession, results: list[_Result]) -> None:
    """Each answer onto its delivery, in one executemany UPDATE (only rows still "sending": this run's claims)."""
    if not results:
        return
    now = utcnow()
    statement = (
        update(_DELIVERIES)
        .where(_DELIVERIES.c.id == bindparam("b_id"), _DELIVERIES.c.status == MessageStatus.SENDING)
        .values(
            status=bindparam("b_status"),
            message_id=bindparam("b_message_id"),
            error_code=bindparam("b_error_code"),
            error_message=bindparam("b_error_message"),
            attempts=_DELIVERIES.c.attempts - bindparam("b_refund"),
            sent_at=bindparam("b_sent_at"),
            updated_at=now,
        )
    )
    rows = [
        {
            "b_id": r.delivery_id,
            "b_status": r.status.value,
            "b_message_id": r.message_id,
            "b_error_code": r.error.code if r.error else None,
            "b_error_message": str(r.error)[:1000] if r.error else None,
            "b_refund": int(r.refund),
            "b_sent_at": now if r.status == MessageStatus.SENT else None,
        }
        for r in results
    ]
    await (await session.connection()).execute(statement, rows)


async def _store_counts(session: AsyncSession, blast_id: int) -> None:
    counts = await _counts(session, blast_id)
    await session.execute(update(WhatsAppBlast).where(WhatsAppBlast.id == blast_id).values(**blast_counts(counts)))


async def _counts(session: AsyncSession, blast_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(WhatsAppDelivery.status, func.count())
        .where(WhatsAppDelivery.blast_id == blast_id)
        .group_by(WhatsAppDelivery.status)
    )
    return {str(status): int(count) for status, count in rows}
