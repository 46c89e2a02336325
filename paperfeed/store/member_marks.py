"""Tables of one mark per (member, paper), with when it was made: upvotes and "not interested".

Adding is insert-or-ignore on the primary key (a repeat changes nothing, concurrent adds are exact),
removing deletes the one row, and a member's marks are listed newest first.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Index, Table, delete, select

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata, paper_ref
from paperfeed.store.sql_helpers import insert_ignore, member_ref


def mark_table(name: str) -> Table:
    """The table ``name``: primary key (user_id, paper_id), ``created_at``, indexed by paper."""
    table = Table(
        name,
        metadata,
        member_ref(primary_key=True),
        paper_ref(primary_key=True),
        Column("created_at", UTCDateTime, nullable=False),
    )
    Index(f"ix_{name}_paper_id", table.c.paper_id)
    return table


def add_mark(conn: Connection, table: Table, *, user_id: int, paper_id: str) -> bool:
    """True if the member had not marked the paper yet."""
    return insert_ignore(conn, table, {"user_id": user_id, "paper_id": paper_id, "created_at": now_utc()})


def remove_mark(conn: Connection, table: Table, *, user_id: int, paper_id: str) -> bool:
    """True if there was a mark to remove."""
    q = delete(table).where(table.c.user_id == user_id, table.c.paper_id == paper_id)
    return bool(conn.execute(q).rowcount)


def marked_ids(conn: Connection, table: Table, *, user_id: int, limit: int) -> list[str]:
    """The papers this member marked, newest mark first."""
    q = (
        select(table.c.paper_id)
        .where(table.c.user_id == user_id)
        .order_by(table.c.created_at.desc(), table.c.paper_id)
        .limit(limit)
    )
    return list(conn.execute(q).scalars())
