"""Sign-in sessions: one row per cookie, stored only as the SHA-256 of the cookie value."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Index, String, Table, delete, insert, select

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata
from paperfeed.store.sql_helpers import member_ref
from paperfeed.store.users import User, user_from_row, users

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    member_ref(nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)
Index("ix_sessions_user_id", sessions.c.user_id)

SESSION_TTL = timedelta(days=30)


def hash_secret(token: str) -> str:
    """SHA-256 hex of a session or API token: enough for high-entropy random secrets."""
    return hashlib.sha256(token.encode()).hexdigest()


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
        .where(users.c.disabled.is_(False))  # a disabled member is signed out (store/roles.py)
    )
    return user_from_row(conn.execute(q).first())


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
