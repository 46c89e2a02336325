"""The digest send ledger: one row per (subscriber, period) that makes sending exactly-once, and the
``sent_papers`` each subscriber has already been mailed.

A row moves ``claimed`` -> ``sending`` (just before SMTP DATA) -> ``sent`` (after the server's 250). From
``sending`` it can also go to ``uncertain`` (DATA started and no answer came: never sent again
automatically) or back to ``claimed`` (the server refused the data with a reply: nothing was delivered).
A ``claimed`` row whose attempt failed becomes ``failed`` (retried by a later run) or, at the attempt
limit, ``exhausted``. ``sent``, ``uncertain`` and ``exhausted`` are final.

Every change to a claimed row is made only by its holder: the UPDATE matches the row's id, its status
and ``claimed_by`` (unique per run), so a sender whose claim was taken over settles nothing. See
``docs/digest.md`` for the exact guarantee.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.schema import Column, ForeignKey, Index, Table, UniqueConstraint
from sqlalchemy.types import JSON, Integer, String, Text

from paperfeed.store.schema import UTCDateTime, metadata, paper_ref, serial_id
from paperfeed.store.subscriptions import subscribers

LedgerStatus = Literal["claimed", "sending", "sent", "failed", "uncertain", "exhausted"]
LEDGER_STATUSES: tuple[str, ...] = ("claimed", "sending", "sent", "failed", "uncertain", "exhausted")
FINAL_STATUSES: tuple[str, ...] = ("sent", "uncertain", "exhausted")  # never sent again automatically

sent_papers = Table(
    "sent_papers",
    metadata,
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True),
    paper_ref(primary_key=True),
    Column("sent_at", UTCDateTime, nullable=False),
)

digest_ledger = Table(
    "digest_ledger",
    metadata,
    serial_id(),
    Column("subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False),
    Column("period", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # one of LEDGER_STATUSES
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
class Claim:
    """A ledger row held by ``worker``: it alone may send this subscriber's digest for ``period``."""

    ledger_id: int
    subscriber_id: int
    period: str
    attempts: int
    message_id: str | None
    worker: str
    resumed_from: str | None = None  # previous status when taking over a failed or dead sender's claim


@dataclass
class FailOutcome:
    """What :func:`mark_failed` did: ``held`` is False when the caller no longer held the claim."""

    held: bool
    status: str = "failed"
    suspended: bool = False


def sent_paper_ids(*, conn: Connection, subscriber_id: int) -> set[str]:
    """Every paper already mailed to this subscriber (never sent twice)."""
    rows = conn.execute(select(sent_papers.c.paper_id).where(sent_papers.c.subscriber_id == subscriber_id))
    return {r[0] for r in rows}


def ledger_row(*, conn: Connection, subscriber_id: int, period: str) -> dict[str, Any] | None:
    row = conn.execute(
        select(digest_ledger).where(digest_ledger.c.subscriber_id == subscriber_id, digest_ledger.c.period == period)
    ).first()
    return None if row is None else dict(row._mapping)


def ledger_rows(
    *, conn: Connection, period: str | None = None, statuses: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Ledger rows (with the subscriber's ``email``), oldest first, optionally for one period / statuses."""
    query = (
        select(digest_ledger, subscribers.c.email)
        .join(subscribers, subscribers.c.id == digest_ledger.c.subscriber_id)
        .order_by(digest_ledger.c.id)
    )
    if period is not None:
        query = query.where(digest_ledger.c.period == period)
    if statuses is not None:
        query = query.where(digest_ledger.c.status.in_(list(statuses)))
    return [dict(r._mapping) for r in conn.execute(query)]


def ledger_counts(*, conn: Connection, period: str | None = None) -> dict[str, int]:
    """Rows per status (every status present, 0 when none), optionally for one period."""
    query = select(digest_ledger.c.status, func.count()).group_by(digest_ledger.c.status)
    if period is not None:
        query = query.where(digest_ledger.c.period == period)
    counts = dict.fromkeys(LEDGER_STATUSES, 0)
    for status, n in conn.execute(query):
        counts[str(status)] = int(n)
    return counts


def final_statuses(*, conn: Connection, periods: Iterable[str]) -> dict[tuple[int, str], str]:
    """(subscriber, period) -> status for rows already final: the cheap pre-filter before claiming."""
    wanted = list(set(periods))
    if not wanted:
        return {}
    t = digest_ledger.c
    rows = conn.execute(
        select(t.subscriber_id, t.period, t.status).where(t.period.in_(wanted), t.status.in_(FINAL_STATUSES))
    )
    return {(r[0], r[1]): r[2] for r in rows}


def claim_digest(
    *, conn: Connection, subscriber_id: int, period: str, worker: str, now: datetime, message_id: str
) -> Claim | None:
    """Atomically claim a fresh (subscriber, period): the INSERT fails if any sender claimed it before.

    Returns None when a row already exists; the caller reads it and decides (``take_over``,
    ``settle_abandoned``) what may be done with it.
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
    return Claim(int(ledger_id), subscriber_id, period, 1, message_id, worker)


def _unchanged(row: dict[str, Any]) -> Any:
    """WHERE clause matching ``row`` only if nobody changed it since it was read (compare-and-set)."""
    t = digest_ledger.c
    return and_(
        t.id == row["id"],
        t.status == row["status"],
        t.claimed_by == row["claimed_by"],
        t.claimed_at == row["claimed_at"],
        t.attempts == row["attempts"],
    )


def take_over(*, conn: Connection, row: dict[str, Any], worker: str, now: datetime, max_attempts: int) -> Claim | None:
    """Re-claim a ``failed`` row, or a ``claimed`` one whose holder is gone, if unchanged since read.

    Never a ``sending`` row (its message may have been delivered: see :func:`settle_abandoned`) nor a final
    one, and never past ``max_attempts``. If another sender changed the row meanwhile the UPDATE matches
    nothing and this returns None, so two senders can never both hold it. The Message-ID is kept.
    """
    if row["status"] not in ("failed", "claimed") or row["attempts"] >= max_attempts:
        return None
    t = digest_ledger.c
    done = conn.execute(
        update(digest_ledger)
        .where(_unchanged(row))
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
        worker,
        resumed_from=row["status"],
    )


def settle_abandoned(
    *, conn: Connection, row: dict[str, Any], status: Literal["uncertain", "exhausted"], error: str
) -> bool:
    """Give a row whose holder is gone (or that reached the attempt limit) its final ``status``,
    compare-and-set: False when another sender changed the row since it was read."""
    done = conn.execute(update(digest_ledger).where(_unchanged(row)).values(status=status, error=error[:2000]))
    return done.rowcount == 1


def _held(claim: Claim, status: str) -> Any:
    t = digest_ledger.c
    return and_(t.id == claim.ledger_id, t.claimed_by == claim.worker, t.status == status)


def mark_sending(*, conn: Connection, claim: Claim) -> bool:
    """``claimed`` -> ``sending`` just before DATA; False when the caller no longer holds the claim
    (it must then not send)."""
    return conn.execute(update(digest_ledger).where(_held(claim, "claimed")).values(status="sending")).rowcount == 1


def mark_refused(*, conn: Connection, claim: Claim) -> bool:
    """``sending`` -> ``claimed``: the server answered the data with a refusal, so nothing was delivered."""
    return conn.execute(update(digest_ledger).where(_held(claim, "sending")).values(status="claimed")).rowcount == 1


def mark_uncertain(*, conn: Connection, claim: Claim, error: str, paper_ids: Sequence[str]) -> bool:
    """``sending`` -> ``uncertain``: DATA started and no answer came; the digest is never sent again."""
    done = conn.execute(
        update(digest_ledger)
        .where(_held(claim, "sending"))
        .values(status="uncertain", error=error[:2000], papers=list(paper_ids))
    )
    return done.rowcount == 1


def mark_sent(*, conn: Connection, claim: Claim, paper_ids: Sequence[str], now: datetime) -> bool:
    """The server accepted the digest: settle the row, remember its papers, reset bounces.

    False (and nothing written) when the caller no longer holds the claim.
    """
    done = conn.execute(
        update(digest_ledger)
        .where(_held(claim, "sending"))
        .values(status="sent", sent_at=now, error=None, papers=list(paper_ids))
    )
    if done.rowcount != 1:
        return False
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
    return True


def mark_failed(
    *, conn: Connection, claim: Claim, error: str, bounce: bool, suspend_after: int, max_attempts: int
) -> FailOutcome:
    """A ``claimed`` row whose attempt failed before any data went out: ``failed`` (a later run retries it)
    or, at ``max_attempts``, ``exhausted``. Never touches a ``sending`` row; only the holder may call it.
    A bounce counts towards suspending the address."""
    status = "exhausted" if claim.attempts >= max_attempts else "failed"
    done = conn.execute(update(digest_ledger).where(_held(claim, "claimed")).values(status=status, error=error[:2000]))
    if done.rowcount != 1:
        return FailOutcome(held=False)
    if not bounce:
        return FailOutcome(held=True, status=status)
    s = subscribers.c
    conn.execute(update(subscribers).where(s.id == claim.subscriber_id).values(bounce_count=s.bounce_count + 1))
    suspended = conn.execute(
        update(subscribers)
        .where(and_(s.id == claim.subscriber_id, s.bounce_count >= suspend_after, s.status == "active"))
        .values(status="suspended")
    )
    return FailOutcome(held=True, status=status, suspended=suspended.rowcount > 0)


def release_claim(*, conn: Connection, claim: Claim) -> bool:
    """Give back a claim that sent nothing (the run stopped before DATA): a fresh claim's row disappears,
    a taken-over one goes back to ``failed`` with its attempt uncounted. Only the holder may do this."""
    if claim.resumed_from is None:
        done = conn.execute(delete(digest_ledger).where(_held(claim, "claimed")))
    else:
        done = conn.execute(
            update(digest_ledger)
            .where(_held(claim, "claimed"))
            .values(status="failed", attempts=digest_ledger.c.attempts - 1, error="released: the run stopped")
        )
    return done.rowcount == 1
