"""Leases: one holder of a named background job (the arXiv follower) across workers and machines.

Revision ID: 0010_leases
Revises: 0009_email_verification
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.store.schema import UTCDateTime

revision: str = "0010_leases"
down_revision: str | Sequence[str] | None = "0009_email_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
