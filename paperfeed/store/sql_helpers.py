"""Small SQL helpers shared by the member tables: insert-or-ignore and the owner foreign key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, ForeignKey, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def user_fk(column: str = "users.id") -> ForeignKey:
    """Rows owned by a member go when the member does."""
    return ForeignKey(column, ondelete="CASCADE")


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
