"""SQL of trending: upvote counts, entry times and the gravity score, ranked inside the database.

The score ``n / (max(hours, 0) + offset) ** gravity`` is computed by SQL (``power()`` on PostgreSQL,
``pow()`` on SQLite) and the database sorts and pages, so Python only ever sees one page of rows.

Plans, chosen by the window:
- up to a week (day, week): start from the papers that *entered the daily list* in the window (three
  indexed range scans: submissions, published, first_seen) and count each one's votes through
  ``ix_votes_paper_id``; the cost follows the papers in the window, not the store;
- longer (month, all): take the top of the last week first; an older paper scores less than
  ``n / (168 + offset) ** gravity``, so only papers with enough votes to beat that page's last score can
  appear: one ``GROUP BY paper_id HAVING count(*) >= bar`` over the votes index finds them, and only
  those few are joined and scored. Exact; when the last week has too few voted papers to set a bar, the
  whole window is scored instead.
A paper's entry time is its member submission, else its arXiv publication, else when Paperfeed first saw
it, as in :mod:`paperfeed.store.daily`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Float, bindparam, case, cast, func, literal, select, union_all
from sqlalchemy.exc import OperationalError

from paperfeed.store.schema import UTCDateTime, papers
from paperfeed.store.submissions import submissions
from paperfeed.store.votes import counted, votes

Span = tuple[datetime | None, datetime | None]  # entered in [since, before); None: unbounded
RECENT = timedelta(days=7)  # long windows are pruned with the top of this one (see _pruned)

GRAVITY = 1.8  # score = upvotes / (hours since entry + OFFSET_HOURS) ** GRAVITY (Hacker News constants)
OFFSET_HOURS = 2.0


def _ensure_pow(conn: Connection) -> None:
    """SQLite builds without the math functions get ``pow`` as a deterministic Python function."""
    if conn.dialect.name != "sqlite":
        return
    try:
        conn.exec_driver_sql("SELECT pow(2.0, 1.5)").scalar()
    except OperationalError:
        raw = conn.connection.driver_connection
        raw.create_function("pow", 2, math.pow, deterministic=True)  # type: ignore[union-attr]


def _hours(conn: Connection, now: datetime, entered: Any) -> Any:
    """Hours from ``entered`` to ``now`` as a SQL expression, never negative."""
    at = bindparam("trending_now", now, type_=UTCDateTime)
    if conn.dialect.name == "sqlite":
        hours = (func.julianday(at) - func.julianday(entered)) * 24.0
    else:
        hours = func.extract("epoch", at - entered) / 3600.0
    hours = cast(hours, Float)
    return case((hours < 0, 0.0), else_=hours)


def _score(conn: Connection, n: Any, hours: Any, gravity: float, offset_hours: float) -> Any:
    power = func.pow if conn.dialect.name == "sqlite" else func.power
    return cast(n, Float) / power(hours + offset_hours, gravity)


def _vote_count(paper_id: Any) -> Any:
    return select(func.count()).select_from(votes).where(votes.c.paper_id == paper_id, counted()).scalar_subquery()


def _window_entries(since: datetime) -> Any:
    """(paper_id, entered_at) of every paper that entered the daily list at or after ``since``."""
    not_submitted = ~select(submissions.c.paper_id).where(submissions.c.paper_id == papers.c.id).exists()
    sub = select(submissions.c.paper_id.label("paper_id"), submissions.c.submitted_at.label("entered_at")).where(
        submissions.c.submitted_at >= since
    )
    pub = select(papers.c.id, papers.c.published).where(papers.c.published >= since, not_submitted)
    seen = select(papers.c.id, papers.c.first_seen).where(
        papers.c.published.is_(None), papers.c.first_seen >= since, not_submitted
    )
    return union_all(sub, pub, seen).subquery("entries")


def _all_entries(ids: Sequence[str] | None, min_votes: float = 0.0, entered_in: Span = (None, None)) -> Any:
    """(paper_id, n, entered_at) for every voted paper (optionally only ``ids``, only those with at least
    ``min_votes``, only those entered in ``entered_in``): one pass over the votes index."""
    counts = select(votes.c.paper_id, func.count().label("n")).where(counted()).group_by(votes.c.paper_id)
    if ids is not None:
        counts = counts.where(votes.c.paper_id.in_(list(ids)))
    if min_votes > 1:
        counts = counts.having(func.count() >= min_votes)
    c = counts.subquery("counts")
    entered = func.coalesce(submissions.c.submitted_at, papers.c.published, papers.c.first_seen)
    q = select(c.c.paper_id, c.c.n, entered.label("entered_at")).select_from(
        c.join(papers, papers.c.id == c.c.paper_id).outerjoin(submissions, submissions.c.paper_id == c.c.paper_id)
    )
    since, before = entered_in
    if since is not None:
        q = q.where(entered >= literal(since, UTCDateTime))
    if before is not None:
        q = q.where(entered < literal(before, UTCDateTime))
    return q.subquery("voted")


Row = tuple[str, float, int, datetime]


def _page(
    conn: Connection, inner: Any, now: datetime, gravity: float, offset_hours: float, offset: int, limit: int
) -> list[Row]:
    """Score the rows of ``inner``, sort, page."""
    n, entered = inner.c.n, inner.c.entered_at
    score = _score(conn, n, _hours(conn, now, entered), gravity, offset_hours).label("score")
    q = select(inner.c.paper_id, score, n, entered).where(n > 0)
    q = q.order_by(score.desc(), n.desc(), entered.desc(), inner.c.paper_id).offset(max(offset, 0)).limit(max(limit, 0))
    conv = UTCDateTime()
    return [
        (r[0], float(r[1]), int(r[2]), conv.process_result_value(r[3], conn.dialect))  # type: ignore[misc]
        for r in conn.execute(q)
    ]


def _window(since: datetime) -> Any:
    e = _window_entries(since)
    return select(e.c.paper_id, _vote_count(e.c.paper_id).label("n"), e.c.entered_at).subquery("voted")


def trending_rows(
    *,
    conn: Connection,
    now: datetime,
    since: datetime | None,
    gravity: float,
    offset_hours: float,
    offset: int = 0,
    limit: int = 50,
    ids: Sequence[str] | None = None,
) -> list[Row]:
    """A page of (paper_id, score, upvotes, entered_at), best first, for papers with >= 1 vote that entered
    at or after ``since`` (None: ever). Ties: upvotes desc, entry time desc, paper id asc."""
    _ensure_pow(conn)
    if ids is not None:
        return _page(conn, _all_entries(ids, entered_in=(since, None)), now, gravity, offset_hours, offset, limit)
    if since is not None and now - since <= RECENT:
        return _page(conn, _window(since), now, gravity, offset_hours, offset, limit)
    pruned = _pruned(conn, now, since, gravity, offset_hours, offset, limit)
    if pruned is not None:
        return pruned
    inner = _window(since) if since is not None else _all_entries(None)
    return _page(conn, inner, now, gravity, offset_hours, offset, limit)


def _pruned(
    conn: Connection,
    now: datetime,
    since: datetime | None,
    gravity: float,
    offset_hours: float,
    offset: int,
    limit: int,
) -> list[Row] | None:
    """A long window as (top papers of the last ``RECENT``) + (older papers with enough votes to beat them).

    A paper that entered before ``now - RECENT`` scores less than ``n / (RECENT_h + offset) ** gravity``, so
    it can only reach the page if ``n`` is at least the page's last recent score times that denominator.
    Exact (same order as the full query); None when the recent window has too few papers to set a bar."""
    k = max(offset, 0) + max(limit, 0)
    if k == 0:
        return []
    cut = now - RECENT
    recent = _page(conn, _window(cut), now, gravity, offset_hours, 0, k)
    if len(recent) < k:
        return None
    bar = recent[-1][1] * (RECENT.total_seconds() / 3600 + offset_hours) ** gravity * (1 - 1e-9)
    older = _all_entries(None, min_votes=bar, entered_in=(since, cut))
    older_rows = _page(conn, older, now, gravity, offset_hours, 0, k)
    merged = sorted(recent + older_rows, key=lambda r: (-r[1], -r[2], -r[3].timestamp(), r[0]))
    return merged[max(offset, 0) : k]


def score_papers(*, conn: Connection, ids: Sequence[str], now: datetime | None = None) -> dict[str, float]:
    """Trending score of each of ``ids`` (0.0 for papers without votes); used by search ``sort=trending``."""
    now = now or datetime.now(UTC)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    out = dict.fromkeys(ids, 0.0)
    unique = list(out)
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        for pid, score, _n, _entered in trending_rows(
            conn=conn, now=now, since=None, gravity=GRAVITY, offset_hours=OFFSET_HOURS, limit=len(chunk), ids=chunk
        ):
            out[pid] = score
    return out
