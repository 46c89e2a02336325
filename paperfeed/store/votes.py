"""Upvotes: one row per (member, paper).

Adding is insert-or-ignore on that primary key and counts are ``count(*)``, so concurrent votes are exact
(no read-modify-write counters). Only the votes of members with a verified email address count
(:func:`counted`): every count (paper cards, API, trending, daily) filters with it, so sign-ups that never
verify cannot move a paper, and rows stored before the rule count once their member verifies.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, select

from paperfeed.store.member_marks import add_mark, mark_table, marked_ids, remove_mark
from paperfeed.store.sql_helpers import count_per_paper
from paperfeed.store.users import users

votes = mark_table("votes")


def counted() -> ColumnElement[bool]:
    """The votes that count: those of members whose email address is verified."""
    return votes.c.user_id.in_(select(users.c.id).where(users.c.email_verified_at.is_not(None)))


def add_vote(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Upvote; True if this member had not voted for the paper yet (a repeat vote changes nothing)."""
    return add_mark(conn, votes, user_id=user_id, paper_id=paper_id)


def remove_vote(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Un-vote; True if there was a vote to remove."""
    return remove_mark(conn, votes, user_id=user_id, paper_id=paper_id)


def vote_counts(*, conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    """Counted upvotes for each of ``ids`` (0 for papers nobody verified voted for)."""
    return count_per_paper(conn, votes.c.paper_id, ids, counted())


def user_votes(*, conn: Connection, user_id: int, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` this member has upvoted."""
    if not ids:
        return set()
    q = select(votes.c.paper_id).where(votes.c.user_id == user_id, votes.c.paper_id.in_(list(ids)))
    return set(conn.execute(q).scalars())


def voted_ids(*, conn: Connection, user_id: int, limit: int = 1000) -> list[str]:
    """Papers this member upvoted, newest vote first."""
    return marked_ids(conn, votes, user_id=user_id, limit=limit)
