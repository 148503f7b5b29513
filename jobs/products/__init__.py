"""Product batch items (seed 003): QR-coded items created by the thousand, in idempotent chunks.

planner.plan_product_items      quantity → jobs over fixed sequence ranges, with an estimated duration
items.create_product_items      one job's range: chunks of 50, bulk ``INSERT … ON CONFLICT DO NOTHING``
batches                         create / reserve ranges / progress / COMPLETED or FAILED
"""

from __future__ import annotations
