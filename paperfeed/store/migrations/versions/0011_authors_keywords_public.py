"""Authors, claims, keywords and public collections.

- ``paper_authors``: one row per author of a paper with the normalised name (:mod:`paperfeed.authors`), for
  author pages; filled here from ``papers.authors`` and kept in step by ``upsert_papers``;
- ``author_claims``: a member claims to be one of a paper's authors; a moderator approves or rejects;
- ``paper_keywords``: 3 to 8 keyphrases per paper, computed at index time (:mod:`paperfeed.keywords`);
- ``collections.public``/``slug``/``description`` and ``collection_items.note``/``position``: public
  collections at ``/c/{slug}`` with their notes and ordering.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from paperfeed.authors import author_key, surname_key
from paperfeed.store.migrations.columns import acting_user, created_at, false_flag, owned_by, paper_ref, serial_id
from paperfeed.store.migrations.steps import drop_tables
from paperfeed.store.schema import UTCDateTime

revision = "0011_authors_keywords_public"
down_revision = "0010_leases"


def _paper_authors() -> None:
    table = op.create_table(
        "paper_authors",
        paper_ref(primary_key=True),
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
        serial_id(),
        paper_ref(),
        owned_by("user_id", "users.id"),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        created_at(),
        sa.Column("decided_at", UTCDateTime),
        acting_user("decided_by"),
        sa.UniqueConstraint("paper_id", "user_id", name="uq_author_claims_paper_id"),
    )
    op.create_index("ix_author_claims_status", "author_claims", ["status", "created_at"])
    op.create_index("ix_author_claims_user_id", "author_claims", ["user_id"])
    op.create_table(
        "paper_keywords",
        paper_ref(primary_key=True),
        sa.Column("keywords", sa.JSON, nullable=False),
        sa.Column("computed_at", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("collections") as batch:
        batch.add_column(false_flag("public"))
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
    drop_tables("paper_keywords", "author_claims", "paper_authors")
