"""Personal API tokens (``pf_...``): handed out once in plain text, stored only as SHA-256 hashes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Index, String, Table, delete, insert, or_, select, update

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata, serial_id
from paperfeed.store.sessions import hash_secret
from paperfeed.store.sql_helpers import member_ref
from paperfeed.store.users import User, user_from_row, users

api_tokens = Table(
    "api_tokens",
    metadata,
    serial_id(),
    Column("token_hash", String(64), nullable=False, unique=True),
    member_ref(nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
)
Index("ix_api_tokens_user_id", api_tokens.c.user_id)
# A token's last use is written at most this often: reading the API does not write on every request, and a
# read still works when the write cannot be made (a full disk).
TOUCH_EVERY = timedelta(minutes=5)


@dataclass
class ApiToken:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


def create_api_token(*, conn: Connection, user_id: int, name: str) -> str:
    """A personal API token (``pf_...``), returned in plain text this once; only its hash is kept."""
    token = "pf_" + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            token_hash=hash_secret(token), user_id=user_id, name=name.strip()[:100] or "token", created_at=now_utc()
        )
    )
    return token


def lookup_api_token(*, conn: Connection, token: str) -> tuple[User, datetime | None] | None:
    """The owner of ``token`` and when its use was last recorded, or None; reads only."""
    if not token:
        return None
    digest = hash_secret(token)
    q = (
        select(users, api_tokens.c.last_used_at.label("token_last_used_at"))
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == digest)
    )
    q = q.where(users.c.disabled.is_(False))  # a disabled member's tokens stop working (store/roles.py)
    row = conn.execute(q).first()
    user = user_from_row(row)
    return (user, row.token_last_used_at) if user is not None and row is not None else None


def token_use_is_stale(last_used_at: datetime | None, now: datetime | None = None) -> bool:
    """True when a use of a token last recorded at ``last_used_at`` should be recorded again."""
    return last_used_at is None or last_used_at <= (now or now_utc()) - TOUCH_EVERY


def touch_api_token(*, conn: Connection, token: str, now: datetime | None = None) -> bool:
    """Record a use of ``token`` unless one was recorded within ``TOUCH_EVERY``; True when written."""
    now = now or now_utc()
    stale = or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= now - TOUCH_EVERY)
    q = update(api_tokens).where(api_tokens.c.token_hash == hash_secret(token), stale).values(last_used_at=now)
    return bool(conn.execute(q).rowcount)


def get_user_by_api_token(*, conn: Connection, token: str) -> User | None:
    """The owner of ``token``, or None; records its use (at most every ``TOUCH_EVERY``)."""
    found = lookup_api_token(conn=conn, token=token)
    if found is None:
        return None
    if token_use_is_stale(found[1]):
        touch_api_token(conn=conn, token=token)
    return found[0]


def list_api_tokens(*, conn: Connection, user_id: int) -> list[ApiToken]:
    q = select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
    return [ApiToken(r.id, r.name, r.created_at, r.last_used_at) for r in conn.execute(q)]


def revoke_api_token(*, conn: Connection, user_id: int, token_id: int) -> bool:
    q = delete(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id)
    return bool(conn.execute(q).rowcount)


def revoke_all_api_tokens(*, conn: Connection, user_id: int) -> int:
    """Revoke every token of the member (offered with a password change); how many there were."""
    return int(conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id)).rowcount)
