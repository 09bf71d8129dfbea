"""The journey store's tables, as SQLAlchemy Core metadata: the one description every query
is written against, on SQLite and PostgreSQL alike.

Times are stored as integer microseconds since the epoch (UTC): exact, ordered the same in
both databases, and read straight into the feature kernel's arrays without parsing text.
Events carry no foreign key to their lead: activity streams arrive before, after or without
the CRM record that creates the lead.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.leads import MAX_NAME_LENGTH

metadata = sa.MetaData()

leads = sa.Table(
    "leads",
    metadata,
    sa.Column("lead_id", sa.String(MAX_NAME_LENGTH), primary_key=True),
    sa.Column("created_at_us", sa.BigInteger, nullable=True),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("updated_at_us", sa.BigInteger, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("lead_id", sa.String(MAX_NAME_LENGTH), nullable=False),
    sa.Column("event_type", sa.String(MAX_NAME_LENGTH), nullable=False),
    sa.Column("occurred_at_us", sa.BigInteger, nullable=False),
    # NULLs are distinct in a unique index (both databases): events without an id are all kept.
    sa.Column("event_id", sa.String(MAX_NAME_LENGTH), nullable=True),
    sa.Column("properties", sa.JSON(none_as_null=True), nullable=True),
    sa.Column("received_at_us", sa.BigInteger, nullable=False),
    sa.Index("ix_events_lead_time", "lead_id", "occurred_at_us"),
    sa.Index("ux_events_lead_event_id", "lead_id", "event_id", unique=True),
)

scores = sa.Table(
    "scores",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("lead_id", sa.String(MAX_NAME_LENGTH), nullable=False),
    sa.Column("scored_at_us", sa.BigInteger, nullable=False),
    sa.Column("as_of_us", sa.BigInteger, nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("tier", sa.String(50), nullable=False),
    sa.Column("model_name", sa.String(MAX_NAME_LENGTH), nullable=False),
    sa.Column("model_version", sa.String(50), nullable=True),
    sa.Column("trigger", sa.String(20), nullable=False),
    sa.Column("fit", sa.SmallInteger, nullable=True),
    sa.Column("engagement", sa.SmallInteger, nullable=True),
    sa.Column("grade", sa.String(4), nullable=True),
    sa.Index("ix_scores_lead_time", "lead_id", "scored_at_us"),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("webhook_id", sa.String(40), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("transitions", sa.JSON, nullable=False),
    # Kept to sign deliveries (HMAC needs the secret itself); never shown after creation.
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("description", sa.String(MAX_NAME_LENGTH), nullable=True),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
)

# The outbox: a delivery is written in the transaction that records the score behind it,
# before any attempt, so no tier change is lost between the two.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("delivery_id", sa.String(40), primary_key=True),
    sa.Column("webhook_id", sa.String(40), nullable=False),
    sa.Column("lead_id", sa.String(MAX_NAME_LENGTH), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at_us", sa.BigInteger, nullable=False),
    sa.Column("claimed_until_us", sa.BigInteger, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(2000), nullable=True),
    sa.Column("created_at_us", sa.BigInteger, nullable=False),
    sa.Column("finished_at_us", sa.BigInteger, nullable=True),
    sa.Index("ix_deliveries_due", "status", "next_attempt_at_us"),
    sa.Index("ix_deliveries_webhook", "webhook_id", "created_at_us"),
    sa.Index("ix_deliveries_lead", "lead_id"),
)
