"""What can go wrong creating product items; all of it is final (``PermanentFailure``): retrying cannot help.

Database errors are not listed: they are transient and retried by the job's policy, and a retried chunk is a
no-op for the items already inserted.
"""

from __future__ import annotations

from queue_system import PermanentFailure


class InvalidItemRequest(PermanentFailure, ValueError):
    """Quantity, batch size or job count out of range."""


class BatchNotFound(PermanentFailure, LookupError):
    """No product batch with this id."""


class ItemRangeOutsideBatch(PermanentFailure):
    """A job's sequence range is not within what was reserved on the batch (a job from another database?)."""


class QrPrefixConflict(PermanentFailure):
    """The batch already has items under another QR code prefix; mixing prefixes would break its code series."""
