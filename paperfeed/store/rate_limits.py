"""Limits that hold under any concurrency: serialised "count, then write" steps and the rate-event ledger.

Every limit of the form "at most N in a window" is checked and recorded in one serialised step, so
parallel requests (threads, ``--workers`` processes, several hosts on one PostgreSQL database) can never
all see "N - 1 so far" and all write:

- :func:`serialise` takes the write lock for a key for the rest of the caller's transaction: on SQLite the
  database write lock, taken up front (``BEGIN IMMEDIATE``) so the count that follows is current; on
  PostgreSQL a transaction-level advisory lock (``pg_advisory_xact_lock(hashtext(key))``), released at
  commit or rollback. Callers that count rows of their own table (comments, reports, subscribe requests)
  call it before counting;
- ``rate_events`` keeps one row per counted event (a sign-in attempt, a verification mail, a sign-up)
  for the limits that have no table of their own; :func:`take` counts a key's recent events and inserts
  one only when every limit has room, else raises :class:`RateLimited` with the seconds to wait;
  :func:`give_back` removes an event that turned out not to count (a sign-in that succeeded, a mail that
  was not sent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Connection, Engine, Index, String, Table, delete, insert, select, text

from paperfeed.store.schema import UTCDateTime, metadata, serial_id

rate_events = Table(
    "rate_events",
    metadata,
    serial_id(),
    Column("key", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_rate_events_key_created_at", rate_events.c.key, rate_events.c.created_at)
Index("ix_rate_events_created_at", rate_events.c.created_at)  # pruning

KEEP = timedelta(days=2)  # events older than this count towards no limit and are pruned


@dataclass(frozen=True)
class Limit:
    """At most ``count`` events per ``seconds``; ``label`` says the window in words ("a minute")."""

    count: int
    seconds: int
    label: str


class RateLimited(Exception):
    """A limit is reached: ``retry_after`` seconds until the oldest counted event leaves its window."""

    def __init__(self, limit: Limit, retry_after: int) -> None:
        super().__init__(f"at most {limit.count} {limit.label}; try again in {retry_after} seconds")
        self.limit, self.retry_after = limit, retry_after


def serialise(conn: Connection, *keys: str) -> None:
    """Hold the write lock for ``keys`` until ``conn``'s transaction ends; call it before counting.

    SQLite has one writer at a time: the transaction is started with ``BEGIN IMMEDIATE`` (waiting up to
    the busy timeout) unless it already writes. PostgreSQL: one advisory lock per key, in sorted order
    (two callers locking the same keys cannot deadlock)."""
    if conn.dialect.name == "sqlite":
        if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    for key in sorted(set(keys)):
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


@contextmanager
def serialised(engine: Engine, *keys: str) -> Iterator[Connection]:
    """A transaction holding the write lock for ``keys`` (see :func:`serialise`), committed on exit."""
    with engine.begin() as conn:
        serialise(conn, *keys)
        yield conn


def check(stamps: Sequence[datetime], limits: Sequence[Limit], now: datetime) -> None:
    """Raise :class:`RateLimited` when ``stamps`` (oldest first) already fill one of ``limits`` at ``now``."""
    for limit in limits:
        recent = [s for s in stamps if s > now - timedelta(seconds=limit.seconds)]
        if len(recent) >= limit.count:
            wait = int((recent[-limit.count] + timedelta(seconds=limit.seconds) - now).total_seconds()) + 1
            raise RateLimited(limit, max(wait, 1))


def check_locked(
    conn: Connection, key: str, limits: Sequence[Limit], stamps_since: Callable[[datetime], Sequence[datetime]]
) -> None:
    """Lock ``key``, then check ``limits`` against the times ``stamps_since(since)`` reads from the caller's
    own table (oldest first); the caller writes its row in the same transaction if nothing is raised."""
    serialise(conn, key)
    now = datetime.now(UTC)
    check(stamps_since(now - timedelta(seconds=max(limit.seconds for limit in limits))), limits, now)


def take(conn: Connection, *, key: str, limits: Sequence[Limit], now: datetime | None = None) -> int:
    """Count ``key``'s recent events and record one, only if every limit has room; returns its id.

    Raises :class:`RateLimited` (and records nothing) otherwise. Serialised on ``key``: exact under any
    concurrency. Use one transaction per :func:`take` when a failure must not undo other writes."""
    now = now or datetime.now(UTC)
    serialise(conn, key)
    longest = max(limit.seconds for limit in limits)
    q = (
        select(rate_events.c.created_at)
        .where(rate_events.c.key == key, rate_events.c.created_at > now - timedelta(seconds=longest))
        .order_by(rate_events.c.created_at)
    )
    check(list(conn.execute(q).scalars()), limits, now)
    result = conn.execute(insert(rate_events).values(key=key, created_at=now))
    prune(conn, now=now)  # the ledger keeps only what can still count (a range delete on its own index)
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def give_back(conn: Connection, *, event_ids: Sequence[int]) -> None:
    """Forget events that turned out not to count (a sign-in that succeeded, a mail that was not sent)."""
    if event_ids:
        conn.execute(delete(rate_events).where(rate_events.c.id.in_(list(event_ids))))


def prune(conn: Connection, *, now: datetime | None = None) -> int:
    """Delete events too old to count towards any limit (every :func:`take` does); returns how many went."""
    cut = (now or datetime.now(UTC)) - KEEP
    return int(conn.execute(delete(rate_events).where(rate_events.c.created_at < cut)).rowcount)
