""" "Not interested": papers a member dismissed from "For you" (removed, and what is like them down-weighted)."""

from alembic import op

from paperfeed.store.migrations.steps import create_member_paper_table

revision = "0008_not_interested"
down_revision = "0007_community"


def upgrade() -> None:
    create_member_paper_table("not_interested")


def downgrade() -> None:
    op.drop_table("not_interested")
