"""Authors, claims, keywords and public collections.

- ``paper_authors``: one row per author of a paper with the normalised name (:mod:`paperfeed.authors`), for
  author pages; filled here from ``papers.authors`` and kept in step by ``upsert_papers``;
- ``author_claims``: a member claims to be one of a paper's authors; a moderator approves or rejects;
- ``paper_keywords``: 3 to 8 keyphrases per paper, computed at index time (:mod:`paperfeed.keywords`);
- ``collections.public``/``slug``/``description`` and ``collection_items.note``/``position``: public
  collections at ``/c/{slug}`` with their notes and ordering.

Revision ID: 0011_authors_keywords_public
Revises: 0010_leases
Create Date: 2026-11-29
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from paperfeed.authors import author_key, surname_key
from paperfeed.store.schema import UTCDateTime

revision: str = "0011_authors_keywords_public"
down_revision: str | Sequence[str] | None = "0010_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAPER_FK: dict[str, Any] = {"onupdate": "CASCADE", "ondelete": "CASCADE"}
_CASCADE: dict[str, Any] = {"ondelete": "CASCADE"}


def _paper_authors() -> None:
    table = op.create_table(
        "paper_authors",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **_PAPER_FK), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("name_key", sa.String(300), nullable=False),
        sa.Column("surname_key", sa.String(300), nullable=False),
    )
    op.create_index("ix_paper_authors_name_key", "paper_authors", ["name_key"])
    op.create_index("ix_paper_authors_surname_key", "paper_authors", ["surname_key"])
    conn = op.get_bind()
    papers = sa.table("papers", sa.column("id", sa.String), sa.column("authors", sa.JSON))
    rows: list[dict[str, Any]] = []
    for pid, authors in conn.execute(sa.select(papers.c.id, papers.c.authors)):
        for pos, author in enumerate(authors or []):
            name = str((author or {}).get("name") or "") if isinstance(author, dict) else ""
            key = author_key(name)
            if key:
                rows.append(
                    {"paper_id": pid, "position": pos, "name": name, "name_key": key, "surname_key": surname_key(key)}
                )
        if len(rows) >= 5000:
            op.bulk_insert(table, rows)
            rows = []
    if rows:
        op.bulk_insert(table, rows)


def upgrade() -> None:
    _paper_authors()
    op.create_table(
        "author_claims",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **_PAPER_FK), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", **_CASCADE), nullable=False),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("decided_at", UTCDateTime),
        sa.Column("decided_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.UniqueConstraint("paper_id", "user_id", name="uq_author_claims_paper_id"),
    )
    op.create_index("ix_author_claims_status", "author_claims", ["status", "created_at"])
    op.create_index("ix_author_claims_user_id", "author_claims", ["user_id"])
    op.create_table(
        "paper_keywords",
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", **_PAPER_FK), primary_key=True),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("slug", sa.String(120)))
        batch.add_column(sa.Column("description", sa.Text, nullable=False, server_default=""))
        batch.create_unique_constraint("uq_collections_slug", ["slug"])
    with op.batch_alter_table("collection_items") as batch:
        batch.add_column(sa.Column("note", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("position", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("collection_items") as batch:
        batch.drop_column("position")
        batch.drop_column("note")
    with op.batch_alter_table("collections") as batch:
        batch.drop_constraint("uq_collections_slug", type_="unique")
        batch.drop_column("description")
        batch.drop_column("slug")
        batch.drop_column("public")
    for name in ("paper_keywords", "author_claims", "paper_authors"):
        op.drop_table(name)
