"""Arrival order of papers: ``papers.arrival``, a number that grows with each paper added, so that papers
sharing one timestamp (a whole batch, such as the demo corpus seeded at one instant) are listed in the order
they arrived instead of by their hash ids.

Existing papers are numbered in the order the database kept them: SQLite's ``rowid`` (the order of insertion),
on PostgreSQL ``first_seen`` and then the physical row order.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_arrival_order"
down_revision = "0013_comment_html"


def upgrade() -> None:
    op.add_column("papers", sa.Column("arrival", sa.BigInteger))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE papers SET arrival = numbered.n FROM "
            "(SELECT id, row_number() OVER (ORDER BY first_seen, ctid) AS n FROM papers) AS numbered "
            "WHERE papers.id = numbered.id"
        )
    else:
        op.execute("UPDATE papers SET arrival = rowid")
    op.create_index("ix_papers_arrival", "papers", ["arrival"])


def downgrade() -> None:
    op.drop_index("ix_papers_arrival", "papers")
    op.drop_column("papers", "arrival")
