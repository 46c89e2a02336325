"""Subscribe requests SQL: one row per request (web form or API), kept only for rate limiting per address
and per client (see :mod:`paperfeed.digest.subscribe` for the limits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, Connection, Index, String, Table, delete, func, insert, select

from paperfeed.store.schema import UTCDateTime, metadata, serial_id

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
