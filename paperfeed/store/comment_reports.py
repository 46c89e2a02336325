"""Reports of comments by members: the moderators' queue.

One report per (comment, member). A report is *open* until a moderator hides, restores or dismisses the
comment, which resolves every open report of it; reporting a comment again later reopens the member's report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)

from paperfeed.store.comments import comments
from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata, serial_id
from paperfeed.store.sql_helpers import created_since, insert_ignore, member_ref
from paperfeed.store.users import users

comment_reports = Table(
    "comment_reports",
    metadata,
    serial_id(),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=False),
    member_ref(nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    UniqueConstraint("comment_id", "user_id", name="uq_comment_reports_comment_id"),
)
Index("ix_comment_reports_resolved_at", comment_reports.c.resolved_at)


def add_report(*, conn: Connection, comment_id: int, user_id: int, reason: str) -> bool:
    """Record (or reopen) this member's report of a comment; True if it was not already open."""
    now = now_utc()
    values = {"comment_id": comment_id, "user_id": user_id, "reason": reason, "created_at": now}
    if insert_ignore(conn, comment_reports, values):
        return True
    q = (
        update(comment_reports)
        .where(
            comment_reports.c.comment_id == comment_id,
            comment_reports.c.user_id == user_id,
            comment_reports.c.resolved_at.is_not(None),
        )
        .values(reason=reason, created_at=now, resolved_at=None)
    )
    return bool(conn.execute(q).rowcount)


@dataclass
class ReportRow:
    """One open report: which comment (and paper), who reported it, why and when."""

    id: int
    comment_id: int
    paper_id: str
    reporter: str
    reason: str
    created_at: datetime


def open_reports(*, conn: Connection, limit: int = 500) -> list[ReportRow]:
    """Open reports, oldest first."""
    q = (
        select(
            comment_reports.c.id,
            comment_reports.c.comment_id,
            comments.c.paper_id,
            users.c.username,
            comment_reports.c.reason,
            comment_reports.c.created_at,
        )
        .join(comments, comments.c.id == comment_reports.c.comment_id)
        .join(users, users.c.id == comment_reports.c.user_id)
        .where(comment_reports.c.resolved_at.is_(None))
        .order_by(comment_reports.c.created_at, comment_reports.c.id)
        .limit(limit)
    )
    return [ReportRow(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5]) for r in conn.execute(q)]


def open_report_count(*, conn: Connection) -> int:
    q = select(func.count()).select_from(comment_reports).where(comment_reports.c.resolved_at.is_(None))
    return int(conn.execute(q).scalar_one())


def resolve_reports(*, conn: Connection, comment_id: int, when: datetime | None = None) -> int:
    """Close every open report of a comment; returns how many were open."""
    q = (
        update(comment_reports)
        .where(comment_reports.c.comment_id == comment_id, comment_reports.c.resolved_at.is_(None))
        .values(resolved_at=when or now_utc())
    )
    return int(conn.execute(q).rowcount)


def reports_since(*, conn: Connection, user_id: int, since: datetime) -> list[datetime]:
    """When this member filed each report since ``since``, oldest first (for rate limits)."""
    return created_since(conn, comment_reports, user_id=user_id, since=since)
