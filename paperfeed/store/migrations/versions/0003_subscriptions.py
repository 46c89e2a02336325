"""Subscribers, subscribe requests, papers already mailed and the digest ledger.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from paperfeed.store.schema import UTCDateTime

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SUB: dict[str, Any] = {"ondelete": "CASCADE"}
_PAPER: dict[str, Any] = {"onupdate": "CASCADE", "ondelete": "CASCADE"}


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
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
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("confirmed_at", UTCDateTime),
        sa.Column("unsubscribed_at", UTCDateTime),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
    )
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_index("ix_subscribers_user_id", "subscribers", ["user_id"])
    op.create_table(
        "subscribe_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("mailed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_subscribe_requests_email", "subscribe_requests", ["email", "created_at"])
    op.create_index("ix_subscribe_requests_client", "subscribe_requests", ["client", "created_at"])
    op.create_table(
        "sent_papers",
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", **_SUB), primary_key=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **_PAPER), primary_key=True),
        sa.Column("sent_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "digest_ledger",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", **_SUB), nullable=False),
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
    for name in ("digest_ledger", "sent_papers", "subscribe_requests", "subscribers"):
        op.drop_table(name)
