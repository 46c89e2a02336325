"""Accounts: users, sessions, API tokens, votes, collections, submissions."""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.migrations.columns import acting_user, created_at, false_flag, owned_by, paper_ref, serial_id
from paperfeed.store.migrations.steps import create_member_paper_table, drop_tables
from paperfeed.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    _members()
    _library()
    _submissions()


def downgrade() -> None:
    op.drop_index("ix_papers_published_first_seen", "papers")
    drop_tables("submissions", "collection_items", "collections", "votes", "api_tokens", "sessions", "users")


def _members() -> None:
    """Users, their sign-in sessions and their API tokens."""
    op.create_table(
        "users",
        serial_id(),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        created_at(),
        false_flag("is_admin"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        owned_by("user_id", "users.id"),
        created_at(),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        serial_id(),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        owned_by("user_id", "users.id"),
        sa.Column("name", sa.String(100), nullable=False),
        created_at(),
        sa.Column("last_used_at", UTCDateTime),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])


def _library() -> None:
    """A member's votes and collections of papers."""
    create_member_paper_table("votes")
    op.create_table(
        "collections",
        serial_id(),
        owned_by("user_id", "users.id"),
        sa.Column("name", sa.String(100), nullable=False),
        false_flag("is_default"),
        created_at(),
        sa.UniqueConstraint("user_id", "name", name="uq_collections_user_id_name"),
    )
    op.create_table(
        "collection_items",
        owned_by("collection_id", "collections.id", primary_key=True),
        paper_ref(primary_key=True),
        sa.Column("added_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_collection_items_paper_id", "collection_items", ["paper_id"])


def _submissions() -> None:
    """Papers that members submitted, and the indexes the daily list reads (``paperfeed.store.daily``)."""
    op.create_table(
        "submissions",
        paper_ref(primary_key=True),
        acting_user("submitted_by"),
        sa.Column("submitted_at", UTCDateTime, nullable=False),
        sa.Column("daily_date", sa.Date, nullable=False),
    )
    op.create_index("ix_submissions_submitted_at", "submissions", ["submitted_at"])
    op.create_index("ix_submissions_submitted_by", "submissions", ["submitted_by"])
    op.create_index("ix_papers_published_first_seen", "papers", ["published", "first_seen"])
