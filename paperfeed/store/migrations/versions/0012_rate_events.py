"""Rate events: one row per counted event (sign-in attempt, verification mail, sign-up) for the limits
that have no table of their own, counted and written in one serialised step
(:mod:`paperfeed.store.rate_limits`). Sign-in and verification-resend counters lived in each server
process before; they start empty.
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.migrations.steps import drop_tables
from paperfeed.store.schema import UTCDateTime

revision = "0012_rate_events"
down_revision = "0011_authors_keywords_public"


def upgrade() -> None:
    op.create_table(
        "rate_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_rate_events_key_created_at", "rate_events", ["key", "created_at"])
    op.create_index("ix_rate_events_created_at", "rate_events", ["created_at"])


def downgrade() -> None:
    drop_tables("rate_events")
