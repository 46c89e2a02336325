"""Discussion on papers: comments (with one level of replies), comment upvotes and members' reports.

A comment is *visible* when it is neither deleted nor hidden by a moderator; only visible comments count
(``numComments``, the count on cards). Deleting a comment that has replies keeps a tombstone (body emptied,
``deleted_at`` set) so the replies keep their place; a comment without replies is removed outright.

Reports are the moderators' queue: one report per (comment, member). A report is *open* until a moderator
hides, restores or dismisses the comment, which resolves every open report of it; reporting a comment again
later reopens the member's report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    Integer,
    Select,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
    update,
)

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata, serial_id
from paperfeed.store.sql_helpers import count_per_paper, created_since, insert_ignore, member_post_columns, member_ref
from paperfeed.store.users import users

comments = Table(
    "comments",
    metadata,
    *member_post_columns(),
    Column("parent_id", Integer, ForeignKey("comments.id", ondelete="CASCADE")),
    Column("body", Text, nullable=False),  # Markdown as written
    Column("body_html", Text),  # its sanitised HTML, rendered once when written (community/comments.py)
    Column("created_at", UTCDateTime, nullable=False),
    Column("edited_at", UTCDateTime),
    Column("deleted_at", UTCDateTime),
    Column("hidden_at", UTCDateTime),
    Column("hidden_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
)
Index("ix_comments_paper_id", comments.c.paper_id, comments.c.created_at)
Index("ix_comments_user_id", comments.c.user_id, comments.c.created_at)
Index("ix_comments_parent_id", comments.c.parent_id)

comment_votes = Table(
    "comment_votes",
    metadata,
    member_ref(primary_key=True),
    Column("comment_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_comment_votes_comment_id", comment_votes.c.comment_id)


@dataclass
class CommentRow:
    """One stored comment with its author and upvote count (``voted``: by the member asking)."""

    id: int
    paper_id: str
    user_id: int
    username: str
    display_name: str
    parent_id: int | None
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    hidden_at: datetime | None
    upvotes: int = 0
    voted: bool = False
    body_html: str | None = None  # None: not rendered yet (a row written around the application)

    @property
    def visible(self) -> bool:
        return self.deleted_at is None and self.hidden_at is None


def _visible() -> ColumnElement[bool]:
    return and_(comments.c.deleted_at.is_(None), comments.c.hidden_at.is_(None))


def _select() -> Select[tuple[object, ...]]:
    upvotes = (
        select(func.count())
        .where(comment_votes.c.comment_id == comments.c.id)
        .correlate(comments)
        .scalar_subquery()
        .label("upvotes")
    )
    return select(comments, users.c.username, users.c.display_name, upvotes).join(
        users, users.c.id == comments.c.user_id
    )


def _row(r: object) -> CommentRow:
    m = r._mapping  # type: ignore[attr-defined]
    return CommentRow(
        id=int(m["id"]),
        paper_id=m["paper_id"],
        user_id=int(m["user_id"]),
        username=m["username"],
        display_name=m["display_name"] or m["username"],
        parent_id=m["parent_id"],
        body=m["body"],
        created_at=m["created_at"],
        edited_at=m["edited_at"],
        deleted_at=m["deleted_at"],
        hidden_at=m["hidden_at"],
        upvotes=int(m["upvotes"]),
        body_html=m["body_html"],
    )


def add_comment(
    *,
    conn: Connection,
    paper_id: str,
    user_id: int,
    body: str,
    parent_id: int | None,
    body_html: str | None = None,
    when: datetime | None = None,
) -> int:
    """Store a comment (or a reply to ``parent_id``) with its rendered HTML; returns its id. Checks are the
    caller's."""
    result = conn.execute(
        insert(comments).values(
            paper_id=paper_id,
            user_id=user_id,
            parent_id=parent_id,
            body=body,
            body_html=body_html,
            created_at=when or now_utc(),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def get_comment(*, conn: Connection, comment_id: int, viewer_id: int | None = None) -> CommentRow | None:
    found = conn.execute(_select().where(comments.c.id == comment_id)).first()
    if found is None:
        return None
    row = _row(found)
    if viewer_id is not None:
        row.voted = bool(_voted(conn, viewer_id, [row.id]))
    return row


def _voted(conn: Connection, user_id: int, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    q = select(comment_votes.c.comment_id).where(
        comment_votes.c.user_id == user_id, comment_votes.c.comment_id.in_(list(ids))
    )
    return {int(x) for x in conn.execute(q).scalars()}


def list_comments(*, conn: Connection, paper_id: str, viewer_id: int | None = None) -> list[CommentRow]:
    """Every comment of a paper, hidden and tombstoned ones included, oldest first."""
    q = _select().where(comments.c.paper_id == paper_id).order_by(comments.c.created_at, comments.c.id)
    rows = [_row(r) for r in conn.execute(q)]
    if viewer_id is not None:
        voted = _voted(conn, viewer_id, [r.id for r in rows])
        for r in rows:
            r.voted = r.id in voted
    return rows


def reply_count(*, conn: Connection, comment_id: int) -> int:
    q = select(func.count()).select_from(comments).where(comments.c.parent_id == comment_id)
    return int(conn.execute(q).scalar_one())


def update_body(
    *, conn: Connection, comment_id: int, body: str, body_html: str | None = None, when: datetime | None = None
) -> None:
    """Replace the text of a comment (and its rendered HTML) and mark it edited."""
    values = {"body": body, "body_html": body_html, "edited_at": when or now_utc()}
    conn.execute(update(comments).where(comments.c.id == comment_id).values(**values))


def delete_comment(*, conn: Connection, comment_id: int, when: datetime | None = None) -> bool:
    """Remove a comment; one with replies becomes a tombstone instead. True when the row itself went."""
    if reply_count(conn=conn, comment_id=comment_id):
        conn.execute(
            update(comments)
            .where(comments.c.id == comment_id)
            .values(body="", body_html="", deleted_at=when or now_utc())
        )
        return False
    conn.execute(delete(comments).where(comments.c.id == comment_id))
    return True


def set_hidden(*, conn: Connection, comment_id: int, by: int | None, when: datetime | None = None) -> None:
    """Hide a comment as moderator ``by``; ``by=None`` restores it."""
    values = {"hidden_at": (when or now_utc()) if by is not None else None, "hidden_by": by}
    conn.execute(update(comments).where(comments.c.id == comment_id).values(**values))


def visible_counts(*, conn: Connection, paper_ids: Sequence[str]) -> dict[str, int]:
    """Visible comments (replies included) of each paper; 0 for papers without any."""
    return count_per_paper(conn, comments.c.paper_id, paper_ids, _visible())


def comments_since(*, conn: Connection, user_id: int, since: datetime) -> list[datetime]:
    """When this member posted each comment since ``since``, oldest first (for rate limits)."""
    return created_since(conn, comments, user_id=user_id, since=since)


def add_comment_vote(*, conn: Connection, user_id: int, comment_id: int) -> bool:
    """Upvote a comment; True if this member had not voted for it yet."""
    return insert_ignore(conn, comment_votes, {"user_id": user_id, "comment_id": comment_id, "created_at": now_utc()})


def remove_comment_vote(*, conn: Connection, user_id: int, comment_id: int) -> bool:
    q = delete(comment_votes).where(comment_votes.c.user_id == user_id, comment_votes.c.comment_id == comment_id)
    return bool(conn.execute(q).rowcount)


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
