"""Submissions: a member putting a paper on the daily list (the first submission of a paper wins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Column, Connection, Date, ForeignKey, Index, Integer, Table, select

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata, paper_ref, papers
from paperfeed.store.sql_helpers import insert_ignore
from paperfeed.store.users import UserPublic, users

submissions = Table(
    "submissions",
    metadata,
    paper_ref(primary_key=True),
    Column("submitted_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("daily_date", Date, nullable=False),
)
Index("ix_submissions_submitted_at", submissions.c.submitted_at)
Index("ix_submissions_submitted_by", submissions.c.submitted_by)
# The daily list (store/daily.py) finds papers without a published date by first_seen: published IS NULL
# plus a first_seen range is one range scan of this index, never a scan of every undated paper.
Index("ix_papers_published_first_seen", papers.c.published, papers.c.first_seen)


@dataclass
class Submission:
    paper_id: str
    submitted_at: datetime
    daily_date: date


def add_submission(*, conn: Connection, paper_id: str, user_id: int | None, when: datetime | None = None) -> bool:
    """Record that a member put ``paper_id`` on the daily list of ``when``'s UTC date.

    The first submission of a paper wins; returns False if it had already been submitted.
    """
    when = (when or now_utc()).astimezone(UTC)
    return insert_ignore(
        conn,
        submissions,
        {"paper_id": paper_id, "submitted_by": user_id, "submitted_at": when, "daily_date": when.date()},
    )


def submissions_by(*, conn: Connection, user_id: int, offset: int = 0, limit: int = 100) -> list[Submission]:
    """A member's submissions, newest first."""
    q = (
        select(submissions)
        .where(submissions.c.submitted_by == user_id)
        .order_by(submissions.c.submitted_at.desc(), submissions.c.paper_id)
        .offset(max(offset, 0))
        .limit(max(limit, 0))
    )
    return [Submission(r.paper_id, r.submitted_at, r.daily_date) for r in conn.execute(q)]


def get_submission(*, conn: Connection, paper_id: str) -> tuple[Submission, UserPublic | None] | None:
    """Who submitted ``paper_id`` and when, or None if nobody did."""
    q = (
        select(submissions, users.c.username, users.c.display_name)
        .outerjoin(users, users.c.id == submissions.c.submitted_by)
        .where(submissions.c.paper_id == paper_id)
    )
    r = conn.execute(q).first()
    if r is None:
        return None
    who = UserPublic(r.username, r.display_name or r.username) if r.username else None
    return Submission(r.paper_id, r.submitted_at, r.daily_date), who
