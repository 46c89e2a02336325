"""What related papers and recommendations read from the store: co-saves, "not interested", stored vectors.

- ``co_saved``: papers that members who saved or upvoted any of some papers also saved or upvoted, with the
  number of such members (the "members who saved this also saved" signal);
- ``not_interested``: one row per (member, paper) the member dismissed from "For you";
- ``pg_vectors``: many stored vectors in one query on the PostgreSQL search backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, func, select, text, union

from paperfeed.store.library import collection_items, collections
from paperfeed.store.member_marks import add_mark, mark_table, marked_ids, remove_mark
from paperfeed.store.votes import votes

not_interested = mark_table("not_interested")


def add_not_interested(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Record that the member is not interested in a paper; True if it was not recorded yet."""
    return add_mark(conn, not_interested, user_id=user_id, paper_id=paper_id)


def remove_not_interested(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Undo "not interested"; True if there was such a row."""
    return remove_mark(conn, not_interested, user_id=user_id, paper_id=paper_id)


def not_interested_ids(*, conn: Connection, user_id: int, limit: int = 200) -> list[str]:
    """Papers the member said they are not interested in, newest first."""
    return marked_ids(conn, not_interested, user_id=user_id, limit=limit)


def _engaged():  # type: ignore[no-untyped-def]
    """(user_id, paper_id) of every save and upvote."""
    saved = select(collections.c.user_id.label("user_id"), collection_items.c.paper_id.label("paper_id")).join(
        collections, collections.c.id == collection_items.c.collection_id
    )
    voted = select(votes.c.user_id.label("user_id"), votes.c.paper_id.label("paper_id"))
    return union(saved, voted).subquery()


def co_saved(
    *, conn: Connection, paper_ids: Sequence[str], exclude_user: int | None = None, limit: int = 100
) -> dict[str, float]:
    """Other papers saved or upvoted by members who saved or upvoted any of ``paper_ids``: the number of
    such members per paper, most first (``exclude_user``: leave that member's own activity out)."""
    if not paper_ids:
        return {}
    e1, e2 = _engaged().alias("e1"), _engaged().alias("e2")
    members = select(e1.c.user_id).where(e1.c.paper_id.in_(list(paper_ids)))
    if exclude_user is not None:
        members = members.where(e1.c.user_id != exclude_user)
    n = func.count(func.distinct(e2.c.user_id)).label("n")
    q = (
        select(e2.c.paper_id, n)
        .where(e2.c.user_id.in_(members), e2.c.paper_id.not_in(list(paper_ids)))
        .group_by(e2.c.paper_id)
        .order_by(n.desc(), e2.c.paper_id)
        .limit(limit)
    )
    return {pid: float(count) for pid, count in conn.execute(q)}


def pg_vectors(*, conn: Connection, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """Stored vectors of ``ids`` (PostgreSQL ``paper_vectors``), those that have one."""
    rows = conn.execute(
        text("SELECT paper_id, embedding::text AS v FROM paper_vectors WHERE paper_id = ANY(:ids)"), {"ids": list(ids)}
    )
    return {r.paper_id: np.array(r.v.strip("[]").split(","), dtype=np.float32) for r in rows}
