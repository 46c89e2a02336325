"""Subscribers, subscribe requests, papers already mailed and the digest ledger."""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.migrations.columns import created_at, owned_by, paper_ref, serial_id
from paperfeed.store.migrations.steps import drop_tables
from paperfeed.store.schema import UTCDateTime

revision = "0003"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "subscribers",
        serial_id(),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("trending", sa.Boolean, nullable=False),
        sa.Column("topics", sa.JSON, nullable=False),
        sa.Column("for_you", sa.Boolean, nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("send_hour", sa.Integer, nullable=False),
        sa.Column("last_digest_at", UTCDateTime),
        sa.Column("bounce_count", sa.Integer, nullable=False),
        created_at(),
        sa.Column("confirmed_at", UTCDateTime),
        sa.Column("unsubscribed_at", UTCDateTime),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_index("ix_subscribers_user_id", "subscribers", ["user_id"])
    op.create_table(
        "subscribe_requests",
        serial_id(),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        created_at(),
        sa.Column("mailed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_subscribe_requests_email", "subscribe_requests", ["email", "created_at"])
    op.create_index("ix_subscribe_requests_client", "subscribe_requests", ["client", "created_at"])
    op.create_table(
        "sent_papers",
        owned_by("subscriber_id", "subscribers.id", primary_key=True),
        paper_ref(primary_key=True),
        sa.Column("sent_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "digest_ledger",
        serial_id(),
        owned_by("subscriber_id", "subscribers.id"),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("message_id", sa.String(255)),
        sa.Column("error", sa.Text),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("papers", sa.JSON),
        sa.UniqueConstraint("subscriber_id", "period", name="uq_digest_ledger_subscriber_period"),
    )
    op.create_index("ix_digest_ledger_status", "digest_ledger", ["status"])


def downgrade() -> None:
    drop_tables("digest_ledger", "sent_papers", "subscribe_requests", "subscribers")
