"""Claiming deliveries for DATA (pending/rejected → sending), for many concurrent emails in one statement.

The claim is the step that makes a delivery at most once: "sending" is committed before DATA, and only the try
that moved the row out of pending/rejected may send. Emails of one worker that reach DATA at about the same time
are claimed together (:mod:`jobs.db.batching`) with one ``UPDATE … WHERE id IN (…) AND status IN (pending,
rejected) RETURNING id`` (a batch of one uses ``id = …``: an expanding ``IN`` is rendered anew per execution);
each caller learns only after the commit whether its own row was claimed. A delivery
asked for twice in one batch (the same job running twice at once) is claimed for the first caller only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Update, bindparam, update
from sqlalchemy.engine import Connection

from ..db import DeliveryStatus, EmailDelivery
from ..db.batched_reads import key_parameter, keys_parameter
from ..db.batching import Batcher
from ..db.types import utcnow


class DeliveryClaims(Batcher[int, bool]):
    """``await claims.claim(delivery_id)``: True if this call moved the delivery to "sending" (committed)."""

    async def claim(self, delivery_id: int) -> bool:
        return await self.submit(delivery_id)

    def run(self, connection: Connection, keys: Sequence[int]) -> Sequence[bool]:
        unique = sorted(set(keys))
        if len(unique) == 1:
            result = connection.execute(_CLAIM_ONE, {"key": unique[0], "at": utcnow()})
        else:
            result = connection.execute(_CLAIM_MANY, {"keys": unique, "at": utcnow()})
        claimed = set(result.scalars())
        answers = []
        for delivery_id in keys:
            answers.append(delivery_id in claimed)
            claimed.discard(delivery_id)  # a repeated id: only its first caller may send
        return answers


def _claim(*which: Any) -> Update:
    return (
        update(EmailDelivery)
        .where(*which, EmailDelivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.REJECTED]))
        .values(
            status=DeliveryStatus.SENDING,
            attempts=EmailDelivery.attempts + 1,
            sending_started_at=bindparam("at"),
            updated_at=bindparam("at"),
        )
        .returning(EmailDelivery.id)
    )


_CLAIM_ONE = _claim(EmailDelivery.id == key_parameter())
_CLAIM_MANY = _claim(EmailDelivery.id.in_(keys_parameter()))
