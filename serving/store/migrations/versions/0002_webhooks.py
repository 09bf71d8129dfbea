"""Webhook subscriptions and their deliveries (an outbox with retries and a dead letter).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.String(40), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("transitions", sa.JSON, nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("description", sa.String(200), nullable=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("delivery_id", sa.String(40), primary_key=True),
        sa.Column("webhook_id", sa.String(40), nullable=False),
        sa.Column("lead_id", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at_us", sa.BigInteger, nullable=False),
        sa.Column("claimed_until_us", sa.BigInteger, nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.String(2000), nullable=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("finished_at_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at_us"])
    op.create_index("ix_deliveries_webhook", "webhook_deliveries", ["webhook_id", "created_at_us"])
    op.create_index("ix_deliveries_lead", "webhook_deliveries", ["lead_id"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
