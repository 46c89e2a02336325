"""Subscriptions SQL: subscribers and their preferences, subscribe requests (rate limits), the papers
already mailed to each subscriber, and the digest ledger that makes sending exactly-once per period.

The ledger has one row per (subscriber, period), guarded by a UNIQUE constraint. A sender *claims* a row
(an INSERT that fails when another sender got there first, or a compare-and-set UPDATE that takes over a
claim whose owner died), moves it to ``sending`` just before the SMTP DATA command, and to ``sent`` (with the
papers it carried) right after the server's final 250. See ``docs/digest.md`` for the exact guarantee.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
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
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from paperfeed.store.schema import UTCDateTime, metadata, paper_fk

Status = Literal["pending", "active", "unsubscribed", "suspended"]
Frequency = Literal["daily", "weekdays", "weekly"]
STATUSES: tuple[str, ...] = ("pending", "active", "unsubscribed", "suspended")
FREQUENCIES: tuple[str, ...] = ("daily", "weekdays", "weekly")

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
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

# One row per subscribe request (web form or API), kept for rate limiting per address and per client.
subscribe_requests = Table(
    "subscribe_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    Column("client", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("mailed", Boolean, nullable=False, default=False),
)
Index("ix_subscribe_requests_email", subscribe_requests.c.email, subscribe_requests.c.created_at)
Index("ix_subscribe_requests_client", subscribe_requests.c.client, subscribe_requests.c.created_at)

sent_papers = Table(
    "sent_papers",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", String(64), paper_fk(), primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
)

digest_ledger = Table(
    "digest_ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("period", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # claimed | sending | sent | failed
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(200), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("message_id", String(255)),
    Column("error", Text),
    Column("sent_at", UTCDateTime),
    Column("papers", JSON),
    UniqueConstraint("subscriber_id", "period", name="uq_digest_ledger_subscriber_period"),
)
Index("ix_digest_ledger_status", digest_ledger.c.status)


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


@dataclass
class Claim:
    """A ledger row this sender owns: it may send this subscriber's digest for ``period``."""

    ledger_id: int
    subscriber_id: int
    period: str
    attempts: int
    message_id: str | None
    resumed_from: str | None = None  # previous status when taking over a dead sender's claim


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


def count_requests(
    *, conn: Connection, since: datetime, email: str | None = None, client: str | None = None, mailed_only: bool = False
) -> int:
    """Subscribe requests since ``since`` for an address or a client (rate limiting)."""
    t = subscribe_requests.c
    query = select(func.count()).select_from(subscribe_requests).where(t.created_at >= since)
    if email is not None:
        query = query.where(subscribe_requests.c.email == email)
    if client is not None:
        query = query.where(subscribe_requests.c.client == client)
    if mailed_only:
        query = query.where(subscribe_requests.c.mailed.is_(True))
    return int(conn.execute(query).scalar_one())


def record_request(*, conn: Connection, email: str, client: str, now: datetime, mailed: bool) -> None:
    conn.execute(insert(subscribe_requests).values(email=email, client=client[:128], created_at=now, mailed=mailed))


def prune_requests(*, conn: Connection, before: datetime) -> int:
    """Forget subscribe requests older than ``before`` (they no longer count towards any limit)."""
    return conn.execute(delete(subscribe_requests).where(subscribe_requests.c.created_at < before)).rowcount


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


def sent_paper_ids(*, conn: Connection, subscriber_id: int) -> set[str]:
    """Every paper already mailed to this subscriber (never sent twice)."""
    rows = conn.execute(select(sent_papers.c.paper_id).where(sent_papers.c.subscriber_id == subscriber_id))
    return {r[0] for r in rows}


# ---------------------------------------------------------------- the ledger


def ledger_row(*, conn: Connection, subscriber_id: int, period: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(digest_ledger).where(digest_ledger.c.subscriber_id == subscriber_id, digest_ledger.c.period == period)
    ).first()
    return None if row is None else dict(row._mapping)


def ledger_rows(*, conn: Connection, period: str | None = None) -> list[dict[str, Any]]:
    query = select(digest_ledger).order_by(digest_ledger.c.id)
    if period is not None:
        query = query.where(digest_ledger.c.period == period)
    return [dict(r._mapping) for r in conn.execute(query)]


def settled_subscriber_ids(*, conn: Connection, periods: Iterable[str]) -> set[tuple[int, str]]:
    """(subscriber, period) pairs already sent: the cheap pre-filter before claiming."""
    wanted = list(set(periods))
    if not wanted:
        return set()
    rows = conn.execute(
        select(digest_ledger.c.subscriber_id, digest_ledger.c.period).where(
            digest_ledger.c.period.in_(wanted), digest_ledger.c.status == "sent"
        )
    )
    return {(r[0], r[1]) for r in rows}


def claim_digest(
    *, conn: Connection, subscriber_id: int, period: str, worker: str, now: datetime, message_id: str
) -> Claim | None:
    """Atomically claim a fresh (subscriber, period): the INSERT fails if any sender claimed it before.

    Returns None when a row already exists; ``take_over`` decides whether that row may be retried.
    """
    try:
        with conn.begin_nested():
            ledger_id = conn.execute(
                insert(digest_ledger).values(
                    subscriber_id=subscriber_id,
                    period=period,
                    status="claimed",
                    claimed_at=now,
                    claimed_by=worker,
                    attempts=1,
                    message_id=message_id,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
    except IntegrityError:
        return None
    return Claim(int(ledger_id), subscriber_id, period, 1, message_id)


def take_over(*, conn: Connection, row: dict[str, Any], worker: str, now: datetime, max_attempts: int) -> Claim | None:
    """Compare-and-set: re-claim ``row`` only if it is unchanged since it was read.

    The caller has decided the row is retryable (a failed attempt, or a claim whose owner is dead or
    stale). If another sender changed the row meanwhile, the UPDATE matches nothing and this returns None,
    so two senders can never both own it. The Message-ID is kept, so a resend is recognisable as the same
    message.
    """
    if row["status"] == "sent" or row["attempts"] >= max_attempts:
        return None
    t = digest_ledger.c
    done = conn.execute(
        update(digest_ledger)
        .where(
            t.id == row["id"],
            t.status == row["status"],
            t.claimed_by == row["claimed_by"],
            t.claimed_at == row["claimed_at"],
            t.attempts == row["attempts"],
        )
        .values(status="claimed", claimed_by=worker, claimed_at=now, attempts=t.attempts + 1, error=None)
    )
    if done.rowcount != 1:
        return None
    return Claim(
        row["id"],
        row["subscriber_id"],
        row["period"],
        row["attempts"] + 1,
        row["message_id"],
        resumed_from=row["status"],
    )


def mark_sending(*, conn: Connection, claim: Claim, worker: str) -> bool:
    """Record that the message body is about to be handed over (the only ambiguous moment)."""
    done = conn.execute(
        update(digest_ledger)
        .where(
            digest_ledger.c.id == claim.ledger_id,
            digest_ledger.c.claimed_by == worker,
            digest_ledger.c.status == "claimed",
        )
        .values(status="sending")
    )
    return done.rowcount == 1


def mark_sent(*, conn: Connection, claim: Claim, paper_ids: Sequence[str], now: datetime) -> None:
    """The server accepted the digest: settle the ledger, remember its papers, reset bounces."""
    conn.execute(
        update(digest_ledger)
        .where(digest_ledger.c.id == claim.ledger_id)
        .values(status="sent", sent_at=now, error=None, papers=list(paper_ids))
    )
    if paper_ids:
        known = sent_paper_ids(conn=conn, subscriber_id=claim.subscriber_id)
        rows = [
            {"subscriber_id": claim.subscriber_id, "paper_id": pid, "sent_at": now}
            for pid in dict.fromkeys(paper_ids)
            if pid not in known
        ]
        if rows:
            conn.execute(insert(sent_papers), rows)
    conn.execute(
        update(subscribers).where(subscribers.c.id == claim.subscriber_id).values(last_digest_at=now, bounce_count=0)
    )


def mark_failed(*, conn: Connection, claim: Claim, error: str, bounce: bool, suspend_after: int) -> bool:
    """Record a failed attempt (retried by a later run); a bounce counts towards suspension.

    Returns True when this bounce suspended the address.
    """
    conn.execute(
        update(digest_ledger).where(digest_ledger.c.id == claim.ledger_id).values(status="failed", error=error[:2000])
    )
    if not bounce:
        return False
    s = subscribers.c
    conn.execute(update(subscribers).where(s.id == claim.subscriber_id).values(bounce_count=s.bounce_count + 1))
    done = conn.execute(
        update(subscribers)
        .where(and_(s.id == claim.subscriber_id, s.bounce_count >= suspend_after, s.status == "active"))
        .values(status="suspended")
    )
    return done.rowcount > 0


def release_claim(*, conn: Connection, claim: Claim) -> None:
    """Give back a claim that sent nothing (the digest turned out empty): the row disappears."""
    conn.execute(
        delete(digest_ledger).where(
            digest_ledger.c.id == claim.ledger_id,
            or_(digest_ledger.c.status == "claimed", digest_ledger.c.status == "failed"),
        )
    )
