"""SQL of the daily list and of trending: when each paper entered the daily papers, and its upvotes.

A paper enters the daily list at its **entry time**: when a member submitted it (``submissions``), else its
arXiv ``published`` time, else when Paperfeed first saw it. Its daily date is the UTC date of that time.
Each query is a union of three indexed range scans (``ix_submissions_submitted_at``, ``ix_papers_published``,
``ix_papers_first_seen``), so a day, week or month costs what it returns, not the size of the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Integer, Select, cast, func, literal, null, select, type_coerce, union_all
from sqlalchemy.sql import ColumnElement

from paperfeed.store.citation_graph import cited_by_expr
from paperfeed.store.schema import UTCDateTime, papers
from paperfeed.store.submissions import submissions
from paperfeed.store.users import users
from paperfeed.store.votes import counted, votes

DailySort = Literal["publishedAt", "trending", "citations"]


@dataclass
class DailyRow:
    """One daily entry before hydration: the paper id, its entry time and its submitter (if a member)."""

    paper_id: str
    entered_at: datetime
    submitted_by: str | None
    submitter_name: str | None
    upvotes: int
    submitted: bool = False  # a member put it on the list (False: it arrived by import or harvest)


def _not_submitted() -> ColumnElement[bool]:
    return ~select(submissions.c.paper_id).where(submissions.c.paper_id == papers.c.id).exists()


def _entries(start: datetime | None, end: datetime | None, submitter: str | None, members_only: bool = False) -> Any:
    """Union of the three sources of daily entries in ``[start, end)``: (paper_id, entered_at, user_id,
    submitted, arrival); ``members_only`` keeps the member submissions only."""
    arrival = select(papers.c.arrival).where(papers.c.id == submissions.c.paper_id).scalar_subquery()
    sub = select(
        submissions.c.paper_id.label("paper_id"),
        submissions.c.submitted_at.label("entered_at"),
        submissions.c.submitted_by.label("user_id"),
        cast(literal(1), Integer).label("submitted"),
        arrival.label("arrival"),
    )
    if start is not None:
        sub = sub.where(submissions.c.submitted_at >= start)
    if end is not None:
        sub = sub.where(submissions.c.submitted_at < end)
    if submitter is not None:
        sub = sub.join(users, users.c.id == submissions.c.submitted_by).where(
            func.lower(users.c.username) == submitter.strip().lower()
        )
        return sub.subquery("entries")
    if members_only:
        return sub.subquery("entries")
    arrived = cast(literal(0), Integer).label("submitted")
    no_user = cast(null(), Integer).label("user_id")
    pub = select(papers.c.id, papers.c.published, no_user, arrived, papers.c.arrival).where(
        papers.c.published.is_not(None), _not_submitted()
    )
    seen = select(papers.c.id, papers.c.first_seen, no_user, arrived, papers.c.arrival).where(
        papers.c.published.is_(None), _not_submitted()
    )
    if start is not None:
        pub = pub.where(papers.c.published >= start)
        seen = seen.where(papers.c.first_seen >= start)
    if end is not None:
        pub = pub.where(papers.c.published < end)
        seen = seen.where(papers.c.first_seen < end)
    return union_all(sub, pub, seen).subquery("entries")


def _upvotes(paper_id: Any) -> Any:
    return select(func.count()).select_from(votes).where(votes.c.paper_id == paper_id, counted()).scalar_subquery()


def daily_rows(
    *,
    conn: Connection,
    start: datetime | None,
    end: datetime | None,
    submitter: str | None,
    sort: DailySort,
    offset: int,
    limit: int,
    members_only: bool,
) -> tuple[list[DailyRow], int]:
    """A page of daily entries in ``[start, end)`` (None: unbounded) and how many there are in all (the
    defaults are :func:`paperfeed.rank.daily.daily_papers`'s).

    ``publishedAt``: newest entry first. ``trending``: most upvotes first, then newest. ``citations``: most
    cited first, then newest. Ties: the order the
    papers arrived in (``papers.arrival``), then paper id.
    ``members_only``: only papers a member submitted (not those that arrived by import or harvest).
    """
    e = _entries(start, end, submitter, members_only)
    up = _upvotes(e.c.paper_id).label("upvotes")
    entered = type_coerce(e.c.entered_at, UTCDateTime).label("entered_at")
    q: Select[Any] = select(
        e.c.paper_id, entered, up, users.c.username, users.c.display_name, e.c.submitted
    ).select_from(e.outerjoin(users, users.c.id == e.c.user_id))
    # Ties of one entry time (a batch added at one instant) in the order the papers arrived, then by id.
    order: list[Any] = [e.c.entered_at.desc(), func.coalesce(e.c.arrival, 0), e.c.paper_id]
    if sort == "trending":
        order.insert(0, up.desc())
    elif sort == "citations":  # CITATIONS: most cited first (OpenAlex counts, 0 without data)
        order.insert(0, cited_by_expr(e.c.paper_id).desc())
    q = q.order_by(*order).offset(max(offset, 0)).limit(max(limit, 0))
    total = int(conn.execute(select(func.count()).select_from(e)).scalar_one())
    rows = [
        DailyRow(r.paper_id, _aware(r.entered_at), r.username, r.display_name, int(r.upvotes), bool(r.submitted))
        for r in conn.execute(q)
    ]
    return rows, total


def _aware(value: Any) -> datetime:
    """An entry time as an aware UTC datetime, whatever the backend handed back."""
    return UTCDateTime().process_result_value(value, None)  # type: ignore[arg-type,return-value]


def entry_bounds(*, conn: Connection) -> tuple[datetime | None, datetime | None]:
    """The earliest and latest entry time in the store (each a few index lookups)."""
    firsts, lasts = [], []
    for col, cond in (
        (submissions.c.submitted_at, None),
        (papers.c.published, None),
        (papers.c.first_seen, papers.c.published.is_(None)),
    ):
        lo = select(func.min(col))
        hi = select(func.max(col))
        if cond is not None:
            lo, hi = lo.where(cond), hi.where(cond)
        firsts.append(conn.execute(lo).scalar())
        lasts.append(conn.execute(hi).scalar())
    lo_vals = [_aware(v) for v in firsts if v is not None]
    hi_vals = [_aware(v) for v in lasts if v is not None]
    return (min(lo_vals) if lo_vals else None, max(hi_vals) if hi_vals else None)


def neighbour_entry(
    *, conn: Connection, before: datetime | None = None, after: datetime | None = None
) -> datetime | None:
    """The latest entry time strictly before ``before``, or the earliest at or after ``after``.

    Lets the home page's prev/next links skip days without papers (weekends, holidays). Each source is one
    ordered index walk that stops at its first match.
    """
    if (before is None) == (after is None):
        raise ValueError("give exactly one of before or after")
    found = []
    for col, extra in (
        (submissions.c.submitted_at, None),
        (papers.c.published, _not_submitted()),
        (papers.c.first_seen, papers.c.published.is_(None) & _not_submitted()),
    ):
        q = select(col).where(col < before if before is not None else col >= after)
        if extra is not None:
            q = q.where(extra)
        q = q.order_by(col.desc() if before is not None else col.asc()).limit(1)
        value = conn.execute(q).scalar()
        if value is not None:
            found.append(_aware(value))
    if not found:
        return None
    return max(found) if before is not None else min(found)


def voted_entries(
    *, conn: Connection, since: datetime | None = None, ids: Sequence[str] | None = None
) -> list[tuple[str, int, datetime]]:
    """(paper_id, upvotes, entered_at) for every paper with at least one vote, optionally only those that
    entered the daily list at or after ``since`` or only ``ids``. Scans votes, never all papers."""
    counts = select(votes.c.paper_id, func.count().label("n")).where(counted()).group_by(votes.c.paper_id)
    if ids is not None:
        counts = counts.where(votes.c.paper_id.in_(list(ids)))
    c = counts.subquery("counts")
    entered = func.coalesce(submissions.c.submitted_at, papers.c.published, papers.c.first_seen)
    q = select(c.c.paper_id, c.c.n, entered.label("entered_at")).select_from(
        c.join(papers, papers.c.id == c.c.paper_id).outerjoin(submissions, submissions.c.paper_id == c.c.paper_id)
    )
    out = [(r.paper_id, int(r.n), _aware(r.entered_at)) for r in conn.execute(q)]
    if since is not None:
        out = [row for row in out if row[2] >= since]
    return out
