"""WhatsApp templates, blasts, recipients and deliveries (seed 004); product batches and items (seed 003).

Revision ID: w0003
Revises: s0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jobs.db.types import UtcDateTime

revision: str = "w0003"
down_revision: str | None = "s0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _whatsapp()
    _products()


def _whatsapp() -> None:
    op.create_table(
        "whatsapp_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rejection_reason", sa.String(1000), nullable=True),
        sa.Column("external_id", sa.String(64), nullable=True),
        sa.Column("synced_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_templates")),
        sa.UniqueConstraint("name", "language", name=op.f("uq_whatsapp_templates_name_language")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_whatsapp_templates_status"), "whatsapp_templates", ["status"])
    op.create_table(
        "whatsapp_blasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("send_at", UtcDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("schedule_version", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(128), nullable=True),
        sa.Column("total_recipients", sa.Integer(), nullable=False),
        sa.Column("sent_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("unknown_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("started_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"], ["whatsapp_templates.id"], name=op.f("fk_whatsapp_blasts_template_id_whatsapp_templates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_blasts")),
        sa.UniqueConstraint("uid", name=op.f("uq_whatsapp_blasts_uid")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_whatsapp_blasts_template_id"), "whatsapp_blasts", ["template_id"])
    op.create_index(op.f("ix_whatsapp_blasts_send_at"), "whatsapp_blasts", ["send_at"])
    op.create_index(op.f("ix_whatsapp_blasts_status"), "whatsapp_blasts", ["status"])
    op.create_table(
        "whatsapp_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blast_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blast_id"],
            ["whatsapp_blasts.id"],
            name=op.f("fk_whatsapp_recipients_blast_id_whatsapp_blasts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_recipients")),
        sa.UniqueConstraint("blast_id", "phone", name=op.f("uq_whatsapp_recipients_blast_id_phone")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "whatsapp_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blast_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.String(1000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sending_started_at", UtcDateTime(), nullable=True),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blast_id"],
            ["whatsapp_blasts.id"],
            name=op.f("fk_whatsapp_deliveries_blast_id_whatsapp_blasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["whatsapp_recipients.id"],
            name=op.f("fk_whatsapp_deliveries_recipient_id_whatsapp_recipients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_deliveries")),
        sa.UniqueConstraint("blast_id", "phone", name=op.f("uq_whatsapp_deliveries_blast_id_phone")),
        sa.UniqueConstraint("recipient_id", name=op.f("uq_whatsapp_deliveries_recipient_id")),
        sqlite_autoincrement=True,
    )


def _products() -> None:
    op.create_table(
        "product_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("product_name", sa.String(300), nullable=True),
        sa.Column("qr_code_prefix", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("items_planned", sa.Integer(), nullable=False),
        sa.Column("items_created", sa.Integer(), nullable=False),
        sa.Column("jobs_total", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_batches")),
        sa.UniqueConstraint("uid", name=op.f("uq_product_batches_uid")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_product_batches_status"), "product_batches", ["status"])
    op.create_table(
        "product_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("qr_code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["product_batches.id"],
            name=op.f("fk_product_items_batch_id_product_batches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_items")),
        sa.UniqueConstraint("batch_id", "sequence", name=op.f("uq_product_items_batch_id_sequence")),
        sa.UniqueConstraint("batch_id", "qr_code", name=op.f("uq_product_items_batch_id_qr_code")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("product_items")
    op.drop_table("product_batches")
    op.drop_table("whatsapp_deliveries")
    op.drop_table("whatsapp_recipients")
    op.drop_table("whatsapp_blasts")
    op.drop_table("whatsapp_templates")
