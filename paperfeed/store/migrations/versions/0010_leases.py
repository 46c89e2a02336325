"""Leases: one holder of a named background job (the arXiv follower) across workers and machines."""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.schema import UTCDateTime

revision = "0010_leases"
down_revision = "0009_email_verification"


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("acquired_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
