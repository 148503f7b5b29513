"""WhatsApp templates keep their body text (synced from the Cloud API), to count its {{1}}, {{2}} … parameters.

Revision ID: w0004
Revises: w0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "w0004"
down_revision: str | None = "w0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_templates") as table:
        table.add_column(sa.Column("body", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_templates") as table:
        table.drop_column("body")
