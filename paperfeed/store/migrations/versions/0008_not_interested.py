""" "Not interested": papers a member dismissed from "For you" (removed, and what is like them down-weighted).

Revision ID: 0008_not_interested
Revises: 0007_community
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from paperfeed.store.schema import UTCDateTime

revision: str = "0008_not_interested"
down_revision: str | Sequence[str] | None = "0007_community"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "not_interested",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", onupdate="CASCADE", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_not_interested_paper_id", "not_interested", ["paper_id"])


def downgrade() -> None:
    op.drop_table("not_interested")
