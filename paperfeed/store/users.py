"""Members: the ``users`` table, sign-up and look-ups by id, email and username."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Connection, String, Table, Text, false, func, insert, select, update

from paperfeed.store.account_errors import AccountError
from paperfeed.store.library import DEFAULT_COLLECTION, create_collection
from paperfeed.store.papers import now_utc
from paperfeed.store.rate_limits import serialise
from paperfeed.store.schema import UTCDateTime, metadata, serial_id

__all__ = [
    "AccountError",
    "User",
    "UserPublic",
    "create_user",
    "get_user",
    "get_user_by_email",
    "get_user_by_username",
    "set_password_hash",
    "user_from_row",
    "users",
]

users = Table(
    "users",
    metadata,
    serial_id(),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    # member | moderator | admin, and disabled accounts (migration 0007_community; see store/roles.py)
    Column("role", String(16), nullable=False, default="member", server_default="member"),
    Column("disabled", Boolean, nullable=False, default=False, server_default=false()),
    # When the member proved they read this address (mailed link), and when a link was last mailed
    # (migration 0008_email_verification; see store/email_verification.py).
    Column("email_verified_at", UTCDateTime),
    Column("verification_sent_at", UTCDateTime),
)


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
    role: str = "member"  # member | moderator | admin
    disabled: bool = False
    email_verified_at: datetime | None = None
    verification_sent_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        """Whether the member proved they read ``email``: only then is anything tied to it theirs."""
        return self.email_verified_at is not None

    @property
    def public(self) -> UserPublic:
        return UserPublic(username=self.username, display_name=self.display_name or self.username)


@dataclass
class UserPublic:
    """What anyone may see about a member (e.g. "submitted by")."""

    username: str
    display_name: str


def user_from_row(row: Any) -> User | None:
    """A :class:`User` from a row holding the ``users`` columns, or None for no row."""
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
        role=m["role"],
        disabled=bool(m["disabled"]),
        email_verified_at=m["email_verified_at"],
        verification_sent_at=m["verification_sent_at"],
    )


def create_user(
    *, conn: Connection, email: str, username: str, password_hash: str, display_name: str = "", is_admin: bool = False
) -> User:
    """Add a member; raises :class:`AccountError` naming ``email`` or ``username`` when already taken."""
    email = email.strip().lower()
    username = username.strip()
    serialise(conn, "users:create")  # parallel sign-ups with one name or address: one account, the rest refused
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
            role="admin" if is_admin else "member",
        )
    )
    user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    create_collection(conn=conn, user_id=user_id, name=DEFAULT_COLLECTION, is_default=True)
    found = get_user(conn=conn, user_id=user_id)
    assert found is not None
    return found


def get_user(*, conn: Connection, user_id: int) -> User | None:
    return user_from_row(conn.execute(select(users).where(users.c.id == user_id)).first())


def get_user_by_email(*, conn: Connection, email: str) -> User | None:
    return user_from_row(conn.execute(select(users).where(users.c.email == email.strip().lower())).first())


def get_user_by_username(*, conn: Connection, username: str) -> User | None:
    """Usernames are matched case-insensitively (``Ada`` and ``ada`` are one member)."""
    q = select(users).where(func.lower(users.c.username) == username.strip().lower())
    return user_from_row(conn.execute(q).first())


def set_password_hash(*, conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
