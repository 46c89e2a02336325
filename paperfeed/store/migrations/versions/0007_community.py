"""Community: member roles and disabling, comments (one level of replies), comment votes and reports.

``users.role`` is ``member``, ``moderator`` or ``admin``; existing ``is_admin`` members become admins.
``users.disabled`` members can neither sign in nor use their API tokens.

Revision ID: 0007_community
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from paperfeed.store.schema import UTCDateTime

revision: str = "0007_community"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASCADE: dict[str, Any] = {"ondelete": "CASCADE"}
_PAPER_FK: dict[str, Any] = {"onupdate": "CASCADE", "ondelete": "CASCADE"}


def _roles() -> None:
    op.add_column("users", sa.Column("role", sa.String(16), nullable=False, server_default="member"))
    op.add_column("users", sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute(sa.text("UPDATE users SET role = 'admin' WHERE is_admin"))


def upgrade() -> None:
    _roles()
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **_PAPER_FK), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", **_CASCADE), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("comments.id", **_CASCADE)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("edited_at", UTCDateTime),
        sa.Column("deleted_at", UTCDateTime),
        sa.Column("hidden_at", UTCDateTime),
        sa.Column("hidden_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
    )
    op.create_index("ix_comments_paper_id", "comments", ["paper_id", "created_at"])
    op.create_index("ix_comments_user_id", "comments", ["user_id", "created_at"])
    op.create_index("ix_comments_parent_id", "comments", ["parent_id"])
    op.create_table(
        "comment_votes",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", **_CASCADE), primary_key=True),
        sa.Column("comment_id", sa.Integer, sa.ForeignKey("comments.id", **_CASCADE), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_comment_votes_comment_id", "comment_votes", ["comment_id"])
    op.create_table(
        "comment_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("comment_id", sa.Integer, sa.ForeignKey("comments.id", **_CASCADE), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", **_CASCADE), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
        sa.UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_id"),
    )
    op.create_index("ix_comment_reports_resolved_at", "comment_reports", ["resolved_at"])


def downgrade() -> None:
    for name in ("comment_reports", "comment_votes", "comments"):
        op.drop_table(name)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled")
        batch.drop_column("role")
