"""Paper tables. Other domains (accounts, votes, subscriptions...) declare theirs on the same ``metadata``
in their own ``store/`` module, each with its own Alembic migration.

Every foreign key to ``papers.id`` is ``ON UPDATE CASCADE ON DELETE CASCADE``: a paper first known by a
derived ``pf-`` id is renamed to its arXiv id when that turns up, and everything attached follows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import SchemaItem
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def paper_fk(**kw: Any) -> ForeignKey:
    """Foreign key to ``papers.id`` that follows renames and deletions."""
    return ForeignKey("papers.id", onupdate="CASCADE", ondelete="CASCADE", **kw)


def paper_ref(**kw: Any) -> Column[str]:
    """The ``paper_id`` column of a row attached to a paper (see :func:`paper_fk`)."""
    return Column("paper_id", String(64), paper_fk(), **kw)


def paper_table(name: str, *columns: SchemaItem) -> Table:
    """A table of what is kept about each paper beside its row (versions, categories, authors, keyphrases):
    keyed by ``paper_id`` (plus the primary-key parts of ``columns``), renamed and deleted with the paper."""
    return Table(name, metadata, paper_ref(primary_key=True), *columns)


def serial_id() -> Column[int]:
    """An ``id`` primary key numbered by the database."""
    return Column("id", Integer, primary_key=True, autoincrement=True)


papers = Table(
    "papers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text, nullable=False),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", JSON, nullable=False, default=list),  # [{"name":..., "affiliations":[...]}], ordered
    Column("authors_text", Text, nullable=False, default=""),  # names joined by ", " for search
    Column("categories", JSON, nullable=False, default=list),
    Column("primary_category", String(64)),
    Column("published", UTCDateTime),
    Column("updated", UTCDateTime),
    Column("latest_version", Integer),
    Column("doi", Text),
    Column("journal_ref", Text),
    Column("comments", Text),
    Column("license", Text),
    Column("abs_url", Text),
    Column("pdf_url", Text),
    Column("code_url", Text),
    Column("project_url", Text),
    Column("source", String(32), nullable=False),
    Column("title_key", Text, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("withdrawn", Boolean, nullable=False, default=False),
    # Grows with each paper added: orders papers that share one timestamp by when they arrived (0014).
    Column("arrival", BigInteger),
)
Index("ix_papers_published", papers.c.published)
Index("ix_papers_first_seen", papers.c.first_seen)
Index("ix_papers_changed_at", papers.c.changed_at)
Index("ix_papers_arrival", papers.c.arrival)
Index("ix_papers_title_key", papers.c.title_key)
Index("ix_papers_primary_category", papers.c.primary_category)

paper_versions = paper_table(
    "paper_versions",
    Column("version", Integer, primary_key=True),
    Column("created", UTCDateTime),
    Column("size", String(32)),
)

paper_categories = paper_table(
    "paper_categories",
    Column("category", String(64), primary_key=True),
)
Index("ix_paper_categories_category", paper_categories.c.category)

# Old ids that now point elsewhere (a pf- id merged into an arXiv id), so old links keep working.
paper_aliases = Table(
    "paper_aliases",
    metadata,
    Column("alias", String(64), primary_key=True),
    paper_ref(nullable=False),
)

# Small named state: harvest resumption tokens, demo seeding, index watermarks.
kv_state = Table(
    "kv_state",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
