"""Upvotes: one row per (member, paper).

Adding is insert-or-ignore on that primary key and counts are ``count(*)``, so concurrent votes are exact
(no read-modify-write counters).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Column, Connection, Index, Integer, String, Table, delete, func, select

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata, paper_fk
from paperfeed.store.sql_helpers import insert_ignore, user_fk

votes = Table(
    "votes",
    metadata,
    Column("user_id", Integer, user_fk(), primary_key=True),
    Column("paper_id", String(64), paper_fk(), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_votes_paper_id", votes.c.paper_id)


def add_vote(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Upvote; True if this member had not voted for the paper yet (a repeat vote changes nothing)."""
    return insert_ignore(conn, votes, {"user_id": user_id, "paper_id": paper_id, "created_at": now_utc()})


def remove_vote(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Un-vote; True if there was a vote to remove."""
    q = delete(votes).where(votes.c.user_id == user_id, votes.c.paper_id == paper_id)
    return bool(conn.execute(q).rowcount)


def vote_counts(*, conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    """Upvotes for each of ``ids`` (0 for papers nobody voted for)."""
    out = dict.fromkeys(ids, 0)
    unique = list(out)
    for i in range(0, len(unique), 500):
        q = (
            select(votes.c.paper_id, func.count())
            .where(votes.c.paper_id.in_(unique[i : i + 500]))
            .group_by(votes.c.paper_id)
        )
        out.update({pid: int(n) for pid, n in conn.execute(q)})
    return out


def user_votes(*, conn: Connection, user_id: int, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` this member has upvoted."""
    if not ids:
        return set()
    q = select(votes.c.paper_id).where(votes.c.user_id == user_id, votes.c.paper_id.in_(list(ids)))
    return set(conn.execute(q).scalars())


def voted_ids(*, conn: Connection, user_id: int, limit: int = 1000) -> list[str]:
    """Papers this member upvoted, newest vote first."""
    q = (
        select(votes.c.paper_id)
        .where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at.desc(), votes.c.paper_id)
        .limit(limit)
    )
    return list(conn.execute(q).scalars())
