"""Claiming deliveries for DATA (pending/rejected → sending), for many concurrent emails in one statement.

The claim is the step that makes a delivery at most once: "sending" is committed before DATA, and only the try
that moved the row out of pending/rejected may send. Emails of one worker that reach DATA at about the same time
are claimed together (:mod:`jobs.db.batching`) with one ``UPDATE … WHERE id IN (…) AND status IN (pending,
rejected) RETURNING id``; each caller learns only after the commit whether its own row was claimed. A delivery
asked for twice in one batch (the same job running twice at once) is claimed for the first caller only.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..db import DeliveryStatus, EmailDelivery
from ..db.batched_reads import keys_parameter
from ..db.batching import Batcher
from ..db.types import utcnow


class DeliveryClaims(Batcher[int, bool]):
    """``await claims.claim(delivery_id)``: True if this call moved the delivery to "sending" (committed)."""

    async def claim(self, delivery_id: int) -> bool:
        return await self.submit(delivery_id)

    async def run(self, connection: AsyncConnection, keys: Sequence[int]) -> Sequence[bool]:
        result = await connection.execute(_CLAIM, {"keys": sorted(set(keys)), "at": utcnow()})
        claimed = set(result.scalars())
        answers = []
        for delivery_id in keys:
            answers.append(delivery_id in claimed)
            claimed.discard(delivery_id)  # a repeated id: only its first caller may send
        return answers


_CLAIM = (
    update(EmailDelivery)
    .where(
        EmailDelivery.id.in_(keys_parameter()),
        EmailDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.REJECTED]),
    )
    .values(
        status=DeliveryStatus.SENDING,
        attempts=EmailDelivery.attempts + 1,
        sending_started_at=bindparam("at"),
        updated_at=bindparam("at"),
    )
    .returning(EmailDelivery.id)
)
