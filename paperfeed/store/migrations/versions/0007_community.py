"""Community: member roles and disabling, comments (one level of replies), comment votes and reports.

``users.role`` is ``member``, ``moderator`` or ``admin``; existing ``is_admin`` members become admins.
``users.disabled`` members can neither sign in nor use their API tokens.
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.migrations.columns import acting_user, created_at, false_flag, owned_by, paper_ref, serial_id
from paperfeed.store.migrations.steps import drop_tables
from paperfeed.store.schema import UTCDateTime

revision = "0007_community"
down_revision = "0006"


def _roles() -> None:
    op.add_column("users", sa.Column("role", sa.String(16), nullable=False, server_default="member"))
    op.add_column("users", false_flag("disabled"))
    op.execute(sa.text("UPDATE users SET role = 'admin' WHERE is_admin"))


def upgrade() -> None:
    _roles()
    op.create_table(
        "comments",
        serial_id(),
        paper_ref(),
        owned_by("user_id", "users.id"),
        owned_by("parent_id", "comments.id", nullable=True),
        sa.Column("body", sa.Text, nullable=False),
        created_at(),
        sa.Column("edited_at", UTCDateTime),
        sa.Column("deleted_at", UTCDateTime),
        sa.Column("hidden_at", UTCDateTime),
        acting_user("hidden_by"),
    )
    op.create_index("ix_comments_paper_id", "comments", ["paper_id", "created_at"])
    op.create_index("ix_comments_user_id", "comments", ["user_id", "created_at"])
    op.create_index("ix_comments_parent_id", "comments", ["parent_id"])
    op.create_table(
        "comment_votes",
        owned_by("user_id", "users.id", primary_key=True),
        owned_by("comment_id", "comments.id", primary_key=True),
        created_at(),
    )
    op.create_index("ix_comment_votes_comment_id", "comment_votes", ["comment_id"])
    op.create_table(
        "comment_reports",
        serial_id(),
        owned_by("comment_id", "comments.id"),
        owned_by("user_id", "users.id"),
        sa.Column("reason", sa.Text, nullable=False),
        created_at(),
        sa.Column("resolved_at", UTCDateTime),
        sa.UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_id"),
    )
    op.create_index("ix_comment_reports_resolved_at", "comment_reports", ["resolved_at"])


def downgrade() -> None:
    drop_tables("comment_reports", "comment_votes", "comments")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
        batch.drop_column("role")
