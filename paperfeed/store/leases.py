"""Leases: at most one holder of a named job (the arXiv follower) across workers and machines.

A lease is one row ``(name, holder, expires_at)``. Taking it is one atomic conditional UPDATE (``WHERE
holder = me OR expires_at < now``), or, for a name never seen, an INSERT that loses cleanly to a concurrent
one (primary key). Whoever sees one written row holds it until ``expires_at``; a holder that dies simply
stops renewing and another takes over once it expires. Times come from the callers' clocks (UTC), so the
machines sharing a database need roughly synchronised clocks (NTP): skew eats into the time to live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, String, Table, select, update

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import UTCDateTime, metadata
from paperfeed.store.sql_helpers import insert_ignore

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def take_lease(*, conn: Connection, name: str, holder: str, ttl: float, now: datetime | None = None) -> bool:
    """Take or renew lease ``name`` for ``ttl`` seconds; True when ``holder`` holds it afterwards.

    Renewing keeps ``acquired_at``; taking over an expired lease resets it.
    """
    now = now or now_utc()
    expires = now + timedelta(seconds=ttl)
    renewed = conn.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.holder == holder)
        .values(expires_at=expires)
        .execution_options(preserve_rowcount=True)
    )
    if renewed.rowcount == 1:
        return True
    taken = conn.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.expires_at < now)
        .values(holder=holder, acquired_at=now, expires_at=expires)
        .execution_options(preserve_rowcount=True)
    )
    if taken.rowcount == 1:
        return True
    return insert_ignore(conn, leases, {"name": name, "holder": holder, "acquired_at": now, "expires_at": expires})


def release_lease(*, conn: Connection, name: str, holder: str) -> bool:
    """Give the lease up at once (clean shutdown), so another worker need not wait for it to expire."""
    done = conn.execute(
        update(leases)
        .where(leases.c.name == name, leases.c.holder == holder)
        .values(expires_at=now_utc() - timedelta(seconds=1))
        .execution_options(preserve_rowcount=True)
    )
    return bool(done.rowcount == 1)


def get_lease(*, conn: Connection, name: str) -> Lease | None:
    row = conn.execute(select(leases).where(leases.c.name == name)).first()
    if row is None:
        return None
    return Lease(row.name, row.holder, row.acquired_at, row.expires_at)
