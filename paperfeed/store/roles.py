"""Member administration: roles (member, moderator, admin), disabling accounts, listing members.

``users.role`` is the authority; ``users.is_admin`` (older column) is kept equal to ``role == "admin"``.
A disabled member's sign-in sessions are deleted at once; their API tokens stay stored but stop working
(:func:`paperfeed.store.sessions.get_session_user` and :func:`paperfeed.store.api_tokens.get_user_by_api_token`
skip disabled members), so re-enabling an account brings its tokens back.
"""

from __future__ import annotations

from typing import Literal, get_args

from sqlalchemy import Connection, delete, func, select, update

from paperfeed.store.sessions import sessions
from paperfeed.store.users import User, user_from_row, users

Role = Literal["member", "moderator", "admin"]
ROLES: tuple[str, ...] = get_args(Role)


def set_role(*, conn: Connection, user_id: int, role: Role) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    conn.execute(update(users).where(users.c.id == user_id).values(role=role, is_admin=role == "admin"))


def set_disabled(*, conn: Connection, user_id: int, disabled: bool) -> None:
    """Disable (signing the member out everywhere) or re-enable an account."""
    conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))
    if disabled:
        conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def list_users(*, conn: Connection) -> list[User]:
    """Every member, oldest account first."""
    rows = conn.execute(select(users).order_by(users.c.created_at, users.c.id))
    return [u for u in (user_from_row(r) for r in rows) if u is not None]


def count_admins(*, conn: Connection) -> int:
    """Enabled admins (the admin page will not demote or disable the last one)."""
    q = select(func.count()).select_from(users).where(users.c.role == "admin", users.c.disabled.is_(False))
    return int(conn.execute(q).scalar_one())
