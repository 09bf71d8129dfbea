"""Leads, their events and their score history.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.String(200), primary_key=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("updated_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("lead_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("occurred_at_us", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=True),
        sa.Column("properties", sa.JSON, nullable=True),
        sa.Column("received_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_events_lead_time", "events", ["lead_id", "occurred_at_us"])
    op.create_index("ux_events_lead_event_id", "events", ["lead_id", "event_id"], unique=True)
    op.create_table(
        "scores",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("lead_id", sa.String(200), nullable=False),
        sa.Column("scored_at_us", sa.BigInteger, nullable=False),
        sa.Column("as_of_us", sa.BigInteger, nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("tier", sa.String(50), nullable=False),
        sa.Column("model_name", sa.String(200), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=True),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("fit", sa.SmallInteger, nullable=True),
        sa.Column("engagement", sa.SmallInteger, nullable=True),
        sa.Column("grade", sa.String(4), nullable=True),
    )
    op.create_index("ix_scores_lead_time", "scores", ["lead_id", "scored_at_us"])


def downgrade() -> None:
    op.drop_table("scores")
    op.drop_table("events")
    op.drop_table("leads")
