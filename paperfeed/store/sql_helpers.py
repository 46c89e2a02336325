"""Small SQL helpers shared by the member tables: insert-or-ignore, the owner foreign key, counts per paper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, ForeignKey, Integer, Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paperfeed.store.schema import paper_ref, serial_id


def user_fk(column: str = "users.id") -> ForeignKey:
    """Rows owned by a member go when the member does."""
    return ForeignKey(column, ondelete="CASCADE")


def member_post_columns() -> tuple[Column[int], Column[str], Column[int]]:
    """The first columns of what a member writes about a paper (a comment, an authorship claim): its own
    ``id``, the ``paper_id`` and the member's ``user_id``."""
    return serial_id(), paper_ref(nullable=False), member_ref(nullable=False)


def member_ref(**kw: Any) -> Column[int]:
    """The ``user_id`` column of a row owned by a member (see :func:`user_fk`)."""
    return Column("user_id", Integer, user_fk(), **kw)


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT that does nothing on a primary-key/unique conflict; True when a row was written."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "postgresql":
        stmt = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    # INSERT rowcounts are only kept on request (psycopg reports -1 once SQLAlchemy closes the cursor).
    return bool(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1)


def count_per_paper(
    conn: Connection, paper_id: ColumnElement[str], ids: Sequence[str], *where: ColumnElement[bool]
) -> dict[str, int]:
    """Rows per paper for each of ``ids`` (0 for a paper without any), ``where`` narrowing the rows;
    read 500 ids at a time (a bound-parameter list stays small on both databases)."""
    out = dict.fromkeys(ids, 0)
    unique = list(out)
    for i in range(0, len(unique), 500):
        q = select(paper_id, func.count()).where(paper_id.in_(unique[i : i + 500]), *where).group_by(paper_id)
        out.update({pid: int(n) for pid, n in conn.execute(q)})
    return out


def created_since(conn: Connection, table: Table, *, user_id: int, since: datetime) -> list[datetime]:
    """When this member created each row of ``table`` after ``since``, oldest first (for rate limits)."""
    q = (
        select(table.c.created_at)
        .where(table.c.user_id == user_id, table.c.created_at > since)
        .order_by(table.c.created_at)
    )
    return list(conn.execute(q).scalars())
