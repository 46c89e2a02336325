"""Subscribers SQL: an address, its status (pending, active, unsubscribed, suspended) and its digest
preferences; and subscribe requests, one row per request (web form or API), kept only for rate limiting per
address and per client (see :mod:`paperfeed.digest.subscribe` for the limits). What was sent lives in
:mod:`paperfeed.store.send_ledger`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from paperfeed.store.schema import UTCDateTime, metadata, serial_id

Status = Literal["pending", "active", "unsubscribed", "suspended"]
Frequency = Literal["daily", "weekdays", "weekly"]
STATUSES: tuple[str, ...] = ("pending", "active", "unsubscribed", "suspended")
FREQUENCIES: tuple[str, ...] = ("daily", "weekdays", "weekly")

subscribers = Table(
    "subscribers",
    metadata,
    serial_id(),
    Column("email", String(254), nullable=False, unique=True),
    Column("status", String(16), nullable=False, default="pending"),
    Column("user_id", Integer, nullable=True),
    Column("trending", Boolean, nullable=False, default=True),
    Column("topics", JSON, nullable=False, default=list),
    Column("for_you", Boolean, nullable=False, default=False),
    Column("frequency", String(16), nullable=False, default="daily"),
    Column("timezone", String(64), nullable=False, default="UTC"),
    Column("send_hour", Integer, nullable=False, default=7),
    Column("last_digest_at", UTCDateTime),
    Column("bounce_count", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("confirmed_at", UTCDateTime),
    Column("unsubscribed_at", UTCDateTime),
)
Index("ix_subscribers_status", subscribers.c.status)
Index("ix_subscribers_user_id", subscribers.c.user_id)


@dataclass
class Subscriber:
    """A subscriber and their preferences, as stored."""

    id: int
    email: str
    status: str = "pending"
    user_id: int | None = None
    trending: bool = True
    topics: list[str] = field(default_factory=list)
    for_you: bool = False
    frequency: str = "daily"
    timezone: str = "UTC"
    send_hour: int = 7
    last_digest_at: datetime | None = None
    bounce_count: int = 0
    created_at: datetime | None = None
    confirmed_at: datetime | None = None


PREF_FIELDS = ("trending", "topics", "for_you", "frequency", "timezone", "send_hour")


def _subscriber(row: Any) -> Subscriber:
    m = row._mapping
    return Subscriber(
        **{
            k: m[k]
            for k in (
                "id",
                "email",
                "status",
                "user_id",
                "trending",
                "for_you",
                "frequency",
                "timezone",
                "send_hour",
                "last_digest_at",
                "bounce_count",
                "created_at",
                "confirmed_at",
            )
        },
        topics=list(m["topics"] or []),
    )


def get_subscriber(
    *, conn: Connection, subscriber_id: int | None = None, email: str | None = None, user_id: int | None = None
) -> Subscriber | None:
    """One subscriber by id, by (normalised) email or by member id."""
    query = select(subscribers)
    if subscriber_id is not None:
        query = query.where(subscribers.c.id == subscriber_id)
    elif email is not None:
        query = query.where(subscribers.c.email == email)
    elif user_id is not None:
        query = query.where(subscribers.c.user_id == user_id).order_by(subscribers.c.id)
    else:
        raise ValueError("get_subscriber needs subscriber_id, email or user_id")
    row = conn.execute(query).first()
    return None if row is None else _subscriber(row)


def list_subscribers(
    *, conn: Connection, statuses: Sequence[str] = ("active",), email: str | None = None
) -> list[Subscriber]:
    """Subscribers in the given statuses (optionally only one address), by id."""
    query = select(subscribers).where(subscribers.c.status.in_(list(statuses))).order_by(subscribers.c.id)
    if email is not None:
        query = query.where(subscribers.c.email == email)
    return [_subscriber(r) for r in conn.execute(query)]


def create_or_refresh_pending(
    *, conn: Connection, email: str, prefs: dict[str, Any], now: datetime, user_id: int | None = None
) -> tuple[Subscriber, bool]:
    """A pending subscriber for ``email`` with ``prefs``; an active one is returned untouched.

    Returns ``(subscriber, needs_confirmation)``. Preferences of an active subscriber are never changed by
    an unauthenticated request: only the confirmation or manage links can do that.
    """
    existing = get_subscriber(conn=conn, email=email)
    values = {k: v for k, v in prefs.items() if k in PREF_FIELDS}
    if existing is None:
        try:
            with conn.begin_nested():
                new_id = conn.execute(
                    insert(subscribers).values(
                        email=email,
                        status="pending",
                        created_at=now,
                        bounce_count=0,
                        user_id=user_id,
                        **{**_defaults(), **values},
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
        except IntegrityError:  # a concurrent request created it: fall through to the refresh path
            existing = get_subscriber(conn=conn, email=email)
            assert existing is not None
        else:
            sub = get_subscriber(conn=conn, subscriber_id=int(new_id))
            assert sub is not None
            return sub, True
    if existing.status == "active":
        return existing, False
    conn.execute(update(subscribers).where(subscribers.c.id == existing.id).values(status="pending", **values))
    refreshed = get_subscriber(conn=conn, subscriber_id=existing.id)
    assert refreshed is not None
    return refreshed, True


def _defaults() -> dict[str, Any]:
    return {"trending": True, "topics": [], "for_you": False, "frequency": "daily", "timezone": "UTC", "send_hour": 7}


def confirm_subscriber(*, conn: Connection, subscriber_id: int, email: str, now: datetime) -> Subscriber | None:
    """Activate a pending (or re-subscribing) address; idempotent for an active one.

    ``email`` must still match, so a confirmation link for an address that was since changed is void.
    """
    sub = get_subscriber(conn=conn, subscriber_id=subscriber_id)
    if sub is None or sub.email != email:
        return None
    if sub.status != "active":
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id == subscriber_id)
            .values(status="active", confirmed_at=now, bounce_count=0, unsubscribed_at=None)
        )
    return get_subscriber(conn=conn, subscriber_id=subscriber_id)


def confirm_pending(*, conn: Connection, subscriber_id: int, email: str, now: datetime) -> Subscriber | None:
    """Activate the subscriber only while it is pending (one conditional UPDATE), so a confirmation link
    never re-activates an address that unsubscribed or was suspended after it was sent. Returns the
    subscriber as it now is (any status), or None if it is gone or its address changed."""
    conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.email == email, subscribers.c.status == "pending")
        .values(status="active", confirmed_at=now, bounce_count=0, unsubscribed_at=None)
    )
    sub = get_subscriber(conn=conn, subscriber_id=subscriber_id)
    return sub if sub is not None and sub.email == email else None


def update_preferences(*, conn: Connection, subscriber_id: int, prefs: dict[str, Any]) -> Subscriber | None:
    """Change the preference fields given in ``prefs`` (already validated)."""
    values = {k: v for k, v in prefs.items() if k in PREF_FIELDS}
    if values:
        conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(**values))
    return get_subscriber(conn=conn, subscriber_id=subscriber_id)


def link_user(*, conn: Connection, subscriber_id: int, user_id: int) -> None:
    conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(user_id=user_id))


def unsubscribe(*, conn: Connection, subscriber_id: int, now: datetime) -> bool:
    """Stop every mail to this subscriber; True when something changed."""
    done = conn.execute(
        update(subscribers)
        .where(subscribers.c.id == subscriber_id, subscribers.c.status != "unsubscribed")
        .values(status="unsubscribed", unsubscribed_at=now)
    )
    return done.rowcount > 0


def count_by_status(*, conn: Connection) -> dict[str, int]:
    """Subscribers per status (every status present, 0 when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, n in conn.execute(select(subscribers.c.status, func.count()).group_by(subscribers.c.status)):
        counts[str(status)] = int(n)
    return counts


subscribe_requests = Table(
    "subscribe_requests",
    metadata,
    serial_id(),
    Column("email", String(254), nullable=False),
    Column("client", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("mailed", Boolean, nullable=False, default=False),
)
Index("ix_subscribe_requests_email", subscribe_requests.c.email, subscribe_requests.c.created_at)
Index("ix_subscribe_requests_client", subscribe_requests.c.client, subscribe_requests.c.created_at)


def count_requests(
    *, conn: Connection, since: datetime, email: str | None = None, client: str | None = None, mailed_only: bool = False
) -> int:
    """Subscribe requests since ``since`` for an address or a client (rate limiting)."""
    t = subscribe_requests.c
    query = select(func.count()).select_from(subscribe_requests).where(t.created_at >= since)
    if email is not None:
        query = query.where(t.email == email)
    if client is not None:
        query = query.where(t.client == client)
    if mailed_only:
        query = query.where(t.mailed.is_(True))
    return int(conn.execute(query).scalar_one())


def record_request(*, conn: Connection, email: str, client: str, now: datetime, mailed: bool) -> None:
    """Remember one request; ``mailed`` says whether it sent a mail (only those count per address)."""
    conn.execute(insert(subscribe_requests).values(email=email, client=client[:128], created_at=now, mailed=mailed))


def prune_requests(*, conn: Connection, before: datetime) -> int:
    """Forget subscribe requests older than ``before`` (they no longer count towards any limit)."""
    return conn.execute(delete(subscribe_requests).where(subscribe_requests.c.created_at < before)).rowcount
