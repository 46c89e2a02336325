"""Email verification state of members: mark an address verified, record that a link was mailed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from paperfeed.store.users import users


def mark_email_verified(*, conn: Connection, user_id: int, email: str, now: datetime) -> bool:
    """Verify the member's address, only if it is still ``email`` (a link for an old address does nothing).

    True when the account now holds a verified ``email`` (also when it already did).
    """
    same = (users.c.id == user_id, users.c.email == email.strip().lower())
    q = update(users).where(*same, users.c.email_verified_at.is_(None)).values(email_verified_at=now)
    if conn.execute(q).rowcount:
        return True
    verified = select(users.c.id).where(*same, users.c.email_verified_at.is_not(None))
    return conn.execute(verified).first() is not None


def record_verification_sent(*, conn: Connection, user_id: int, now: datetime) -> None:
    """Remember when a verification link was handed to the mail server (shown on the account page)."""
    conn.execute(update(users).where(users.c.id == user_id).values(verification_sent_at=now))
