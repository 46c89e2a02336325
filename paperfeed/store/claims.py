"""Authorship claims: a member says "I am this author of this paper"; a moderator approves or rejects.

One claim per (paper, member). Approved claims put the paper on the member's public profile and a verified
mark next to the claimed author name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    Row,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    update,
)

from paperfeed.store.authors import paper_authors
from paperfeed.store.schema import UTCDateTime, metadata
from paperfeed.store.sql_helpers import insert_ignore, member_post_columns
from paperfeed.store.submissions import submissions
from paperfeed.store.users import users

ClaimStatus = Literal["pending", "approved", "rejected"]

author_claims = Table(
    "author_claims",
    metadata,
    *member_post_columns(),
    Column("author_name", Text, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("decided_at", UTCDateTime),
    Column("decided_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    UniqueConstraint("paper_id", "user_id", name="uq_author_claims_paper_id"),
)
Index("ix_author_claims_status", author_claims.c.status, author_claims.c.created_at)
Index("ix_author_claims_user_id", author_claims.c.user_id)


@dataclass
class Claim:
    id: int
    paper_id: str
    user_id: int
    username: str
    author_name: str
    status: str
    created_at: datetime


def _select() -> Select[Any]:
    return select(author_claims, users.c.username).join(users, users.c.id == author_claims.c.user_id)


def _claim(row: Row[Any]) -> Claim:
    r = row._mapping
    return Claim(r["id"], r["paper_id"], r["user_id"], r["username"], r["author_name"], r["status"], r["created_at"])


def add_claim(*, conn: Connection, paper_id: str, user_id: int, author_name: str, now: datetime) -> bool:
    """File a pending claim; False when this member already claimed an author of this paper."""
    values = {"paper_id": paper_id, "user_id": user_id, "author_name": author_name, "created_at": now}
    return insert_ignore(conn, author_claims, {**values, "status": "pending"})


def decide_claim(*, conn: Connection, claim_id: int, status: ClaimStatus, moderator_id: int, now: datetime) -> bool:
    """Approve or reject a pending claim; False when there is no pending claim with that id."""
    q = (
        update(author_claims)
        .where(author_claims.c.id == claim_id, author_claims.c.status == "pending")
        .values(status=status, decided_at=now, decided_by=moderator_id)
    )
    return bool(conn.execute(q.execution_options(preserve_rowcount=True)).rowcount)


def get_claim(*, conn: Connection, claim_id: int) -> Claim | None:
    row = conn.execute(_select().where(author_claims.c.id == claim_id)).first()
    return _claim(row) if row is not None else None


def submitted_with_author(*, conn: Connection, user_id: int, name_key: str, limit: int = 50) -> list[str]:
    """Papers ``user_id`` submitted that have an author with ``name_key`` (a claimant's own submissions of
    the name they claim: the moderator should see them), newest submission first."""
    q = (
        select(submissions.c.paper_id)
        .join(paper_authors, paper_authors.c.paper_id == submissions.c.paper_id)
        .where(submissions.c.submitted_by == user_id, paper_authors.c.name_key == name_key)
        .group_by(submissions.c.paper_id, submissions.c.submitted_at)
        .order_by(submissions.c.submitted_at.desc())
        .limit(limit)
    )
    return list(conn.execute(q).scalars())


def pending_claims(*, conn: Connection, limit: int = 200) -> list[Claim]:
    """The moderators' queue, oldest first."""
    q = _select().where(author_claims.c.status == "pending").order_by(author_claims.c.created_at).limit(limit)
    return [_claim(r) for r in conn.execute(q)]


def claims_for_paper(*, conn: Connection, paper_id: str) -> list[Claim]:
    q = _select().where(author_claims.c.paper_id == paper_id).order_by(author_claims.c.id)
    return [_claim(r) for r in conn.execute(q)]


def claims_of_user(*, conn: Connection, user_id: int, status: ClaimStatus = "approved") -> list[Claim]:
    q = _select().where(author_claims.c.user_id == user_id, author_claims.c.status == status)
    return [_claim(r) for r in conn.execute(q.order_by(author_claims.c.id.desc()))]


def verified_names(*, conn: Connection, paper_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """For each paper, its approved claims: author name -> the claiming member's username."""
    out: dict[str, dict[str, str]] = {}
    ids = list(dict.fromkeys(paper_ids))
    for i in range(0, len(ids), 500):
        q = _select().where(author_claims.c.paper_id.in_(ids[i : i + 500]), author_claims.c.status == "approved")
        for c in (_claim(r) for r in conn.execute(q)):
            out.setdefault(c.paper_id, {})[c.author_name] = c.username
    return out
