"""Citations from OpenAlex (issue 24).

- ``citation_works``: one row per OpenAlex work we know of, a paper of this store (``paper_id`` set) or an
  outside work (title, year, DOI only), with its ``cited_by_count``, ``counts_by_year`` (JSON) and venue;
  ``fetched_at``/``citing_complete`` say how far its own record and its citing works were fetched;
- ``citation_edges``: ``citing`` cites ``cited`` (both OpenAlex ids), one row a pair, indexed both ways.
"""

import sqlalchemy as sa
from alembic import op

from paperfeed.store.migrations.steps import drop_tables
from paperfeed.store.schema import UTCDateTime

revision = "0015_citations"
down_revision = "0014_arrival_order"


def upgrade() -> None:
    op.create_table(
        "citation_works",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column(
            "paper_id",
            sa.String(64),
            sa.ForeignKey("papers.id", onupdate="CASCADE", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("title", sa.Text),
        sa.Column("year", sa.Integer),
        sa.Column("doi", sa.Text),
        sa.Column("cited_by_count", sa.Integer),
        sa.Column("counts_by_year", sa.Text),
        sa.Column("venue", sa.Text),
        sa.Column("fetched_at", UTCDateTime),
        sa.Column("citing_complete", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("paper_id", name="uq_citation_works_paper_id"),
    )
    op.create_table(
        "citation_edges",
        sa.Column("citing", sa.Text, sa.ForeignKey("citation_works.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("cited", sa.Text, sa.ForeignKey("citation_works.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_citation_edges_cited", "citation_edges", ["cited", "citing"])


def downgrade() -> None:
    op.drop_index("ix_citation_edges_cited", table_name="citation_edges")
    drop_tables("citation_edges", "citation_works")
