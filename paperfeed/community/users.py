"""User administration shared by ``paperfeed users ...`` and the admin page (``/admin/users``).

Every function takes a username (matched case-insensitively) and raises :class:`UserAdminError` naming the
field at fault: an unknown member, a taken username or email, a password the sign-up rules refuse.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, Engine

from paperfeed.errors import FieldError
from paperfeed.password_policy import hash_password, password_problem
from paperfeed.store import roles
from paperfeed.store.account_errors import AccountError
from paperfeed.store.api_tokens import create_api_token
from paperfeed.store.email_verification import mark_email_verified
from paperfeed.store.rate_limits import serialised
from paperfeed.store.roles import Role
from paperfeed.store.users import User, create_user, get_user_by_username
from paperfeed.text import invisible_problem

ROLES = roles.ROLES
Change = Literal["role", "disable", "enable"]
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$")
USERNAME_RULE = "use 2-32 letters, digits, '.', '_' or '-', starting with a letter or digit"


class UserAdminError(FieldError):
    """A user-administration request that cannot be honoured; ``field`` names the input at fault."""


def find_user(*, conn: Connection, username: str) -> User:
    user = get_user_by_username(conn=conn, username=username) if username.strip() else None
    if user is None:
        raise UserAdminError("username", f"no user named {username!r}")
    return user


def signup_problems(
    *, username: str, email: str, password: str, site_name: str = "", display_name: str = ""
) -> tuple[dict[str, str], str]:
    """The one sign-up rule (the sign-up page, the admin page, ``paperfeed users add``): what is wrong with
    each field (field -> message, empty when the account may be made) and the email address normalised."""
    errors: dict[str, str] = {}
    invisible = invisible_problem(display_name, "the display name")
    if invisible:
        errors["display_name"] = invisible
    normalised = email.strip().lower()
    try:
        normalised = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        errors["email"] = str(exc)
    if not USERNAME_RE.match(username.strip()):
        errors["username"] = USERNAME_RULE
    problem = password_problem(password, username=username.strip(), email=normalised, site_name=site_name)
    if problem:
        errors["password"] = problem
    return errors, normalised


def add_user(
    *, conn: Connection, username: str, email: str, password: str, role: Role = "member", site_name: str = ""
) -> User:
    """Create an account with the sign-up rules (:func:`signup_problems`)."""
    errors, normalised = signup_problems(username=username, email=email, password=password, site_name=site_name)
    for field in ("username", "email", "password"):
        if field in errors:
            raise UserAdminError(field, errors[field])
    if role not in ROLES:
        raise UserAdminError("role", f"role must be one of {', '.join(ROLES)}")
    try:
        user = create_user(
            conn=conn, email=normalised, username=username.strip(), password_hash=hash_password(password)
        )
    except AccountError as exc:
        raise UserAdminError(exc.field, str(exc)) from exc
    if role != "member":
        roles.set_role(conn=conn, user_id=user.id, role=role)
    return find_user(conn=conn, username=user.username)


def set_role(*, conn: Connection, username: str, role: str, acting: User | None = None) -> User:
    """Give a member a role. ``acting`` (the admin page's admin) may not demote the last enabled admin."""
    if role not in ROLES:
        raise UserAdminError("role", f"role must be one of {', '.join(ROLES)}, got {role!r}")
    user = find_user(conn=conn, username=username)
    if acting is not None and user.role == "admin" and role != "admin" and _last_admin(conn, user):
        raise UserAdminError("role", f"{user.username} is the only admin; appoint another admin first")
    roles.set_role(conn=conn, user_id=user.id, role=role)  # type: ignore[arg-type]
    return find_user(conn=conn, username=user.username)


def _last_admin(conn: Connection, user: User) -> bool:
    return not user.disabled and user.role == "admin" and roles.count_admins(conn=conn) <= 1


def set_disabled(*, conn: Connection, username: str, disabled: bool, acting: User | None = None) -> User:
    """Disable (sign-in and API tokens stop working at once) or re-enable an account."""
    user = find_user(conn=conn, username=username)
    if disabled and acting is not None and acting.id == user.id:
        raise UserAdminError("username", "you cannot disable your own account")
    if disabled and acting is not None and _last_admin(conn, user):
        raise UserAdminError("username", f"{user.username} is the only admin; appoint another admin first")
    roles.set_disabled(conn=conn, user_id=user.id, disabled=disabled)
    return find_user(conn=conn, username=user.username)


def change_user(*, engine: Engine, username: str, change: Change, role: str = "", acting: User | None = None) -> User:
    """One change to an account in its own transaction: give it ``role``, disable it or enable it.

    ``acting`` is the admin page's admin (the CLI passes none): see :func:`set_role` and :func:`set_disabled`.
    Changes are serialised (one write lock), and ``acting`` must still be an enabled admin inside it: two
    admins demoting each other at once leave one admin, never none.
    """
    with serialised(engine, "accounts:roles") as conn:
        if acting is not None:
            current = find_user(conn=conn, username=acting.username)
            if current.role != "admin" or current.disabled:
                raise UserAdminError("role", "you are no longer an admin of this site")
        if change == "role":
            return set_role(conn=conn, username=username, role=role, acting=acting)
        return set_disabled(conn=conn, username=username, disabled=change == "disable", acting=acting)


def verify_email(*, conn: Connection, username: str, now: datetime) -> tuple[User, bool]:
    """An administrator vouches for a member's address (for instances that cannot send the verification mail):
    the account counts as verified from ``now``. Returns the member and whether it was verified already."""
    user = find_user(conn=conn, username=username)
    if user.email_verified:
        return user, True
    mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=now)
    return find_user(conn=conn, username=user.username), False


def role_phrase(user: User) -> str:
    """``"an admin"``, ``"a moderator"``: the member's role with its article."""
    return f"{'an' if user.role == 'admin' else 'a'} {user.role}"


def new_token(*, conn: Connection, username: str, name: str = "") -> tuple[User, str]:
    """A new personal API token for the member (shown once: only its hash is stored)."""
    user = find_user(conn=conn, username=username)
    if user.disabled:
        raise UserAdminError("username", f"{user.username} is disabled; enable the account first")
    return user, create_api_token(conn=conn, user_id=user.id, name=name or "created by an admin")


def list_users(*, conn: Connection) -> list[User]:
    return roles.list_users(conn=conn)
