"""Papers, versions, categories, aliases and key-value state."""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.migrations.columns import false_flag, paper_ref
from paperfeed.store.migrations.steps import drop_tables
from paperfeed.store.schema import UTCDateTime

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("authors_text", sa.Text, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("primary_category", sa.String(64)),
        sa.Column("published", UTCDateTime),
        sa.Column("updated", UTCDateTime),
        sa.Column("latest_version", sa.Integer),
        sa.Column("doi", sa.Text),
        sa.Column("journal_ref", sa.Text),
        sa.Column("comments", sa.Text),
        sa.Column("license", sa.Text),
        sa.Column("abs_url", sa.Text),
        sa.Column("pdf_url", sa.Text),
        sa.Column("code_url", sa.Text),
        sa.Column("project_url", sa.Text),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("title_key", sa.Text, nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        false_flag("withdrawn"),
    )
    op.create_index("ix_papers_published", "papers", ["published"])
    op.create_index("ix_papers_first_seen", "papers", ["first_seen"])
    op.create_index("ix_papers_changed_at", "papers", ["changed_at"])
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    op.create_index("ix_papers_primary_category", "papers", ["primary_category"])
    op.create_table(
        "paper_versions",
        paper_ref(primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("created", UTCDateTime),
        sa.Column("size", sa.String(32)),
    )
    op.create_table(
        "paper_categories",
        paper_ref(primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
    )
    op.create_index("ix_paper_categories_category", "paper_categories", ["category"])
    op.create_table(
        "paper_aliases",
        sa.Column("alias", sa.String(64), primary_key=True),
        paper_ref(),
    )
    op.create_table(
        "kv_state",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    drop_tables("kv_state", "paper_aliases", "paper_categories", "paper_versions", "papers")
