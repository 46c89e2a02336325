"""Members and what they do: users, sign-in sessions, personal API tokens, upvotes, library, submissions.

Secrets (session cookies, API tokens) are stored only as SHA-256 hashes; the plain value is handed out once.
Upvotes are one row per (member, paper): adding is insert-or-ignore on that primary key and counts are
``count(*)``, so concurrent votes are exact (no read-modify-write counters).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
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
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata, paper_fk, papers


def _user_fk(column: str = "users.id") -> ForeignKey:
    """Rows owned by a member go when the member does."""
    return ForeignKey(column, ondelete="CASCADE")


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, _user_fk(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
Index("ix_sessions_user_id", sessions.c.user_id)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("user_id", Integer, _user_fk(), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
)
Index("ix_api_tokens_user_id", api_tokens.c.user_id)

votes = Table(
    "votes",
    metadata,
    Column("user_id", Integer, _user_fk(), primary_key=True),
    Column("paper_id", String(64), paper_fk(), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_votes_paper_id", votes.c.paper_id)

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, _user_fk(), nullable=False),
    Column("name", String(100), nullable=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("user_id", "name", name="uq_collections_user_id_name"),
)

collection_items = Table(
    "collection_items",
    metadata,
    Column("collection_id", Integer, _user_fk("collections.id"), primary_key=True),
    Column("paper_id", String(64), paper_fk(), primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
)
Index("ix_collection_items_paper_id", collection_items.c.paper_id)

submissions = Table(
    "submissions",
    metadata,
    Column("paper_id", String(64), paper_fk(), primary_key=True),
    Column("submitted_by", Integer, ForeignKey("users.id", ondelete="SET NULL")),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("daily_date", Date, nullable=False),
)
Index("ix_submissions_submitted_at", submissions.c.submitted_at)
Index("ix_submissions_submitted_by", submissions.c.submitted_by)
# The daily list (store/daily.py) finds papers without a published date by first_seen: published IS NULL
# plus a first_seen range is one range scan of this index, never a scan of every undated paper.
Index("ix_papers_published_first_seen", papers.c.published, papers.c.first_seen)

DEFAULT_COLLECTION = "Saved"
SESSION_TTL = timedelta(days=30)


@dataclass
class User:
    """A member. ``password_hash`` never leaves the server."""

    id: int
    email: str
    username: str
    display_name: str
    password_hash: str
    created_at: datetime
    is_admin: bool = False

    @property
    def public(self) -> UserPublic:
        return UserPublic(username=self.username, display_name=self.display_name or self.username)


@dataclass
class UserPublic:
    """What anyone may see about a member (e.g. "submitted by")."""

    username: str
    display_name: str


@dataclass
class ApiToken:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass
class Collection:
    id: int
    name: str
    is_default: bool
    count: int = 0


@dataclass
class Submission:
    paper_id: str
    submitted_at: datetime
    daily_date: date


class AccountError(ValueError):
    """A sign-up or collection request that cannot be honoured; the message says which field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def hash_secret(token: str) -> str:
    """SHA-256 hex of a session or API token: enough for high-entropy random secrets."""
    return hashlib.sha256(token.encode()).hexdigest()


def _insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT that does nothing on a primary-key/unique conflict; True when a row was written."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        stmt: Any = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "postgresql":
        stmt = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(dialect)
    # INSERT rowcounts are only kept on request (psycopg reports -1 once SQLAlchemy closes the cursor).
    return bool(conn.execute(stmt.execution_options(preserve_rowcount=True)).rowcount == 1)


# ---------------------------------------------------------------- users


def _user(row: Any) -> User | None:
    if row is None:
        return None
    m = row._mapping
    return User(
        id=m["id"],
        email=m["email"],
        username=m["username"],
        display_name=m["display_name"] or "",
        password_hash=m["password_hash"],
        created_at=m["created_at"],
        is_admin=bool(m["is_admin"]),
    )


def create_user(
    *, conn: Connection, email: str, username: str, password_hash: str, display_name: str = "", is_admin: bool = False
) -> User:
    """Add a member; raises :class:`AccountError` naming ``email`` or ``username`` when already taken."""
    email = email.strip().lower()
    username = username.strip()
    if get_user_by_email(conn=conn, email=email) is not None:
        raise AccountError("email", "an account with this email already exists")
    if get_user_by_username(conn=conn, username=username) is not None:
        raise AccountError("username", "this username is taken")
    result = conn.execute(
        insert(users).values(
            email=email,
            username=username,
            display_name=display_name.strip() or username,
            password_hash=password_hash,
            created_at=now_utc(),
            is_admin=is_admin,
        )
    )
    user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    create_collection(conn=conn, user_id=user_id, name=DEFAULT_COLLECTION, is_default=True)
    found = get_user(conn=conn, user_id=user_id)
    assert found is not None
    return found


def get_user(*, conn: Connection, user_id: int) -> User | None:
    return _user(conn.execute(select(users).where(users.c.id == user_id)).first())


def get_user_by_email(*, conn: Connection, email: str) -> User | None:
    return _user(conn.execute(select(users).where(users.c.email == email.strip().lower())).first())


def get_user_by_username(*, conn: Connection, username: str) -> User | None:
    """Usernames are matched case-insensitively (``Ada`` and ``ada`` are one member)."""
    q = select(users).where(func.lower(users.c.username) == username.strip().lower())
    return _user(conn.execute(q).first())


def set_password_hash(*, conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


# ---------------------------------------------------------------- sessions


def create_session(*, conn: Connection, user_id: int, ttl: timedelta = SESSION_TTL) -> str:
    """A new sign-in session; returns the plain token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = now_utc()
    conn.execute(
        insert(sessions).values(token_hash=hash_secret(token), user_id=user_id, created_at=now, expires_at=now + ttl)
    )
    return token


def get_session_user(*, conn: Connection, token: str, now: datetime | None = None) -> User | None:
    """The member signed in with ``token``, or None if unknown or expired."""
    if not token:
        return None
    q = (
        select(users)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == hash_secret(token), sessions.c.expires_at > (now or now_utc()))
    )
    return _user(conn.execute(q).first())


def delete_session(*, conn: Connection, token: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == hash_secret(token)))


def delete_other_sessions(*, conn: Connection, user_id: int, keep_token: str | None) -> int:
    """Sign the member out everywhere but the session of ``keep_token`` (after a password change)."""
    q = delete(sessions).where(sessions.c.user_id == user_id)
    if keep_token:
        q = q.where(sessions.c.token_hash != hash_secret(keep_token))
    return int(conn.execute(q).rowcount)


def purge_expired_sessions(*, conn: Connection, now: datetime | None = None) -> int:
    return int(conn.execute(delete(sessions).where(sessions.c.expires_at <= (now or now_utc()))).rowcount)


# ---------------------------------------------------------------- API tokens


def create_api_token(*, conn: Connection, user_id: int, name: str) -> str:
    """A personal API token (``pf_...``), returned in plain text this once; only its hash is kept."""
    token = "pf_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            token_hash=hash_secret(token), user_id=user_id, name=name.strip()[:100] or "token", created_at=now_utc()
        )
    )
    return token


def get_user_by_api_token(*, conn: Connection, token: str) -> User | None:
    """The owner of ``token`` (and records its last use), or None."""
    if not token:
        return None
    digest = hash_secret(token)
    q = select(users).join(api_tokens, api_tokens.c.user_id == users.c.id).where(api_tokens.c.token_hash == digest)
    user = _user(conn.execute(q).first())
    if user is not None:
        conn.execute(update(api_tokens).where(api_tokens.c.token_hash == digest).values(last_used_at=now_utc()))
    return user


def list_api_tokens(*, conn: Connection, user_id: int) -> list[ApiToken]:
    q = select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
    return [ApiToken(r.id, r.name, r.created_at, r.last_used_at) for r in conn.execute(q)]


def revoke_api_token(*, conn: Connection, user_id: int, token_id: int) -> bool:
    q = delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
    return bool(conn.execute(q).rowcount)


# ---------------------------------------------------------------- votes


def add_vote(*, conn: Connection, user_id: int, paper_id: str) -> bool:
    """Upvote; True if this member had not voted for the paper yet (a repeat vote changes nothing)."""
    return _insert_ignore(conn, votes, {"user_id": user_id, "paper_id": paper_id, "created_at": now_utc()})


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


# ---------------------------------------------------------------- library


def create_collection(*, conn: Connection, user_id: int, name: str, is_default: bool = False) -> Collection:
    """A named collection; raises :class:`AccountError` (field ``name``) if empty or already used."""
    name = " ".join(name.split())[:100]
    if not name:
        raise AccountError("name", "a collection needs a name")
    exists = select(collections.c.id).where(collections.c.user_id == user_id, collections.c.name == name)
    if conn.execute(exists).first() is not None:
        raise AccountError("name", f"you already have a collection named {name!r}")
    result = conn.execute(
        insert(collections).values(user_id=user_id, name=name, is_default=is_default, created_at=now_utc())
    )
    return Collection(int(result.inserted_primary_key[0]), name, is_default, 0)  # type: ignore[index]


def _default_collection_id(conn: Connection, user_id: int) -> int:
    q = select(collections.c.id).where(collections.c.user_id == user_id, collections.c.is_default.is_(True))
    found = conn.execute(q).scalar()
    if found is not None:
        return int(found)
    return create_collection(conn=conn, user_id=user_id, name=DEFAULT_COLLECTION, is_default=True).id


def _owned(conn: Connection, user_id: int, collection_id: int) -> bool:
    q = select(collections.c.id).where(collections.c.id == collection_id, collections.c.user_id == user_id)
    return conn.execute(q).first() is not None


def collections_for_user(*, conn: Connection, user_id: int) -> list[Collection]:
    """The member's collections (default "Saved" first) with how many papers each holds."""
    q = (
        select(collections.c.id, collections.c.name, collections.c.is_default, func.count(collection_items.c.paper_id))
        .select_from(collections.outerjoin(collection_items, collection_items.c.collection_id == collections.c.id))
        .where(collections.c.user_id == user_id)
        .group_by(collections.c.id, collections.c.name, collections.c.is_default)
        .order_by(collections.c.is_default.desc(), collections.c.name)
    )
    return [Collection(int(r[0]), r[1], bool(r[2]), int(r[3])) for r in conn.execute(q)]


def delete_collection(*, conn: Connection, user_id: int, collection_id: int) -> bool:
    """Delete one of the member's own collections (the default one stays)."""
    q = delete(collections).where(
        collections.c.id == collection_id, collections.c.user_id == user_id, collections.c.is_default.is_(False)
    )
    return bool(conn.execute(q).rowcount)


def library_add(*, conn: Connection, user_id: int, paper_id: str, collection_id: int | None = None) -> bool:
    """Save a paper to a collection (default "Saved"); True if newly added. Unknown collection: False."""
    cid = collection_id if collection_id is not None else _default_collection_id(conn, user_id)
    if not _owned(conn, user_id, cid):
        return False
    return _insert_ignore(conn, collection_items, {"collection_id": cid, "paper_id": paper_id, "added_at": now_utc()})


def library_remove(*, conn: Connection, user_id: int, paper_id: str, collection_id: int | None = None) -> bool:
    """Remove a paper from one collection, or with no ``collection_id`` from all the member's collections."""
    owned = select(collections.c.id).where(collections.c.user_id == user_id)
    if collection_id is not None:
        owned = owned.where(collections.c.id == collection_id)
    q = delete(collection_items).where(
        collection_items.c.paper_id == paper_id, collection_items.c.collection_id.in_(owned.scalar_subquery())
    )
    return bool(conn.execute(q).rowcount)


def library_list(
    *, conn: Connection, user_id: int, collection_id: int | None = None, offset: int = 0, limit: int = 100
) -> list[str]:
    """Saved paper ids, most recently saved first: one collection, or all of them (each paper once)."""
    added = func.max(collection_items.c.added_at).label("added")
    q = (
        select(collection_items.c.paper_id, added)
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(collections.c.user_id == user_id)
    )
    if collection_id is not None:
        q = q.where(collections.c.id == collection_id)
    q = q.group_by(collection_items.c.paper_id).order_by(added.desc(), collection_items.c.paper_id)
    return list(conn.execute(q.offset(max(offset, 0)).limit(max(limit, 0))).scalars())


def saved_ids(*, conn: Connection, user_id: int, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are in any of the member's collections."""
    if not ids:
        return set()
    q = (
        select(collection_items.c.paper_id)
        .distinct()
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(and_(collections.c.user_id == user_id, collection_items.c.paper_id.in_(list(ids))))
    )
    return set(conn.execute(q).scalars())


def paper_collections(*, conn: Connection, user_id: int, paper_id: str) -> set[int]:
    """Ids of the member's collections that hold ``paper_id``."""
    q = (
        select(collection_items.c.collection_id)
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(collections.c.user_id == user_id, collection_items.c.paper_id == paper_id)
    )
    return {int(x) for x in conn.execute(q).scalars()}


# ---------------------------------------------------------------- submissions


def add_submission(*, conn: Connection, paper_id: str, user_id: int | None, when: datetime | None = None) -> bool:
    """Record that a member put ``paper_id`` on the daily list of ``when``'s UTC date.

    The first submission of a paper wins; returns False if it had already been submitted.
    """
    when = (when or now_utc()).astimezone(UTC)
    return _insert_ignore(
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
