"""Exactly-once delivery of one (subscriber, period) digest, and what the send ledger says.

Claims (:func:`claim_for`): who may send a digest: claim its ledger row, or decide what an existing row means.

- no row: an atomic INSERT claims it;
- ``failed``, or ``claimed`` by a sender that is gone (dead process on this host, or no news for
  ``stale_after``): taken over with a compare-and-set UPDATE, unless it reached the attempt limit, in which
  case it is settled ``exhausted``;
- ``sending`` by a sender that is gone: the message may have been delivered, so it is settled
  ``uncertain`` and never sent again automatically;
- anything else is held by a live sender (``in_progress``) or final.

Delivery (:func:`deliver`): one claimed digest through SMTP, with the ledger kept in step by its holder:
``claimed`` -> ``sending`` (own commit, just before DATA; if that fails the claim is lost and nothing is
sent) -> ``sent`` after the server's 250, or ``uncertain`` when the connection broke after DATA started
(never sent again), or back to ``claimed`` when the server refused the data with a reply (retried). A
failure before DATA makes the row ``failed`` (``exhausted`` at the attempt limit); a run that stops before
DATA for any other reason (server unreachable, an error, an interrupt) releases the claim.

Status (:func:`ledger_status`): digests per state, and the rows an operator should look at (uncertain,
exhausted, failed). Read only; ``paperfeed digest status`` prints it.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.digest.compose import Digest
from paperfeed.digest.mailer import (
    Aborted,
    AddressError,
    ConnectFailure,
    Mailer,
    PermanentFailure,
    SendFailure,
    UncertainDelivery,
)
from paperfeed.store.send_ledger import (
    Claim,
    claim_digest,
    ledger_counts,
    ledger_row,
    ledger_rows,
    mark_failed,
    mark_refused,
    mark_sending,
    mark_sent,
    mark_uncertain,
    release_claim,
    settle_abandoned,
    take_over,
)
from paperfeed.store.subscriptions import count_by_status

ABANDONED_AFTER_DATA = "the sender stopped after SMTP DATA started; the server may or may not have the message"


@dataclass
class ClaimOutcome:
    """A claim, or why there is none: ``in_progress``, ``uncertain`` / ``exhausted`` (settled just now),
    ``already_sent`` / ``already_uncertain`` / ``already_exhausted`` (final before)."""

    claim: Claim | None
    why: str = ""


def worker_name() -> str:
    """``host:pid:run``: lets a later run on this host see that the claiming process is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_dead(claimed_by: str, me: str) -> bool:
    """True when the claim's owner is a process on this host that no longer runs."""
    try:
        host, pid_text, _run = claimed_by.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != me.rsplit(":", 2)[0]:
        return False
    if pid == os.getpid():
        return claimed_by != me  # an earlier run in this very process that did not settle
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False


def claim_for(
    *,
    engine: Engine,
    subscriber_id: int,
    period: str,
    message_id: str,
    worker: str,
    stale_after: timedelta,
    max_attempts: int,
) -> ClaimOutcome:
    """Own this (subscriber, period) or learn what the existing row means (see the module docstring)."""
    wall = datetime.now(UTC)
    with engine.begin() as conn:
        claim = claim_digest(
            conn=conn, subscriber_id=subscriber_id, period=period, worker=worker, now=wall, message_id=message_id
        )
        if claim is not None:
            return ClaimOutcome(claim)
        row = ledger_row(conn=conn, subscriber_id=subscriber_id, period=period)
        if row is None:  # released between our INSERT and this read: the next run claims it
            return ClaimOutcome(None, "in_progress")
        if row["status"] in ("sent", "uncertain", "exhausted"):
            return ClaimOutcome(None, f"already_{row['status']}")
        gone = owner_dead(row["claimed_by"], worker) or row["claimed_at"] < wall - stale_after
        if row["status"] == "sending" or (row["status"] == "claimed" and not gone):
            return _settle_if_gone(conn, row, gone)
        if row["attempts"] >= max_attempts:
            error = f"gave up after {row['attempts']} attempts; last error: {row['error'] or 'none recorded'}"
            done = settle_abandoned(conn=conn, row=row, status="exhausted", error=error)
            return ClaimOutcome(None, "exhausted" if done else "in_progress")
        claim = take_over(conn=conn, row=row, worker=worker, now=wall, max_attempts=max_attempts)
        return ClaimOutcome(claim, "" if claim else "in_progress")


def _settle_if_gone(conn: Connection, row: dict[str, Any], gone: bool) -> ClaimOutcome:
    """A row held by someone else: a gone sender's ``sending`` row becomes ``uncertain``."""
    settled = (
        row["status"] == "sending"
        and gone
        and settle_abandoned(conn=conn, row=row, status="uncertain", error=ABANDONED_AFTER_DATA)
    )
    if settled:
        return ClaimOutcome(None, "uncertain")
    return ClaimOutcome(None, "in_progress")


log = logging.getLogger(__name__)


@dataclass
class DeliveryCounts:
    """The part of a run's report that delivery fills in."""

    sent: int = 0  # accepted by the SMTP server
    failed: int = 0  # refused or not deliverable (retried next run unless exhausted)
    bounced: int = 0  # of those failed, refused for good (the address counts a bounce)
    suspended: int = 0  # addresses suspended by this run's bounces
    uncertain: int = 0  # DATA started, no answer: never resent
    exhausted: int = 0  # given up in this run at the attempt limit
    in_progress: int = 0  # claimed or being sent by another sender
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, digest: Digest, period: str, message: str, bounce: bool = False) -> None:
        self.errors.append({"email": digest.subscriber.email, "period": period, "error": message, "bounce": bounce})


@dataclass
class _Gate:
    """The ledger callbacks the mailer calls around DATA; ``sending`` tracks where the row is."""

    engine: Engine
    claim: Claim
    sending: bool = False

    def before_data(self) -> bool:
        with self.engine.begin() as conn:
            self.sending = mark_sending(conn=conn, claim=self.claim)
        return self.sending

    def after_refusal(self) -> None:
        with self.engine.begin() as conn:
            if mark_refused(conn=conn, claim=self.claim):
                self.sending = False


def deliver(
    *,
    engine: Engine,
    mailer: Mailer,
    claim: Claim,
    digest: Digest,
    msg: EmailMessage,
    suspend_after: int,
    max_attempts: int,
    counts: DeliveryCounts,
) -> None:
    """SMTP for one claimed digest and the ledger around it; raises ConnectFailure to stop the run."""
    gate = _Gate(engine, claim)
    try:
        mailer.send(msg, before_data=gate.before_data, after_refusal=gate.after_refusal)
    except UncertainDelivery as exc:
        with engine.begin() as conn:
            mark_uncertain(conn=conn, claim=claim, error=str(exc), paper_ids=digest.paper_ids)
        counts.uncertain += 1
        counts.error(digest, claim.period, f"uncertain, not resent: {exc}")
        return
    except Aborted:
        counts.in_progress += 1
        return
    except ConnectFailure as exc:
        _release(engine, claim)
        counts.failed += 1
        counts.error(digest, claim.period, str(exc))
        raise
    except (SendFailure, AddressError) as exc:
        _failed(engine, claim, digest, exc, suspend_after, max_attempts, counts)
        return
    except BaseException:
        if not gate.sending:
            _release(engine, claim)
        raise
    with engine.begin() as conn:
        settled = mark_sent(conn=conn, claim=claim, paper_ids=digest.paper_ids, now=digest.now)
    counts.sent += 1
    if not settled:
        log.warning("digest %s/%s delivered, but its ledger row had been settled by another sender", *_who(claim))
        counts.error(digest, claim.period, "delivered, but another sender had settled the ledger row meanwhile")


def _who(claim: Claim) -> tuple[int, str]:
    return claim.subscriber_id, claim.period


def _release(engine: Engine, claim: Claim) -> None:
    with engine.begin() as conn:
        release_claim(conn=conn, claim=claim)


def _failed(
    engine: Engine,
    claim: Claim,
    digest: Digest,
    exc: Exception,
    suspend_after: int,
    max_attempts: int,
    counts: DeliveryCounts,
) -> None:
    bounce = isinstance(exc, PermanentFailure | AddressError)
    error = str(exc)
    with engine.begin() as conn:
        outcome = mark_failed(
            conn=conn, claim=claim, error=error, bounce=bounce, suspend_after=suspend_after, max_attempts=max_attempts
        )
    if not outcome.held:
        counts.in_progress += 1
        return
    counts.failed += 1
    counts.bounced += int(bounce)
    counts.suspended += int(outcome.suspended)
    counts.exhausted += int(outcome.status == "exhausted")
    message = error + (f" (gave up after {claim.attempts} attempts)" if outcome.status == "exhausted" else "")
    counts.error(digest, claim.period, message, bounce)


ATTENTION = ("uncertain", "exhausted", "failed")


@dataclass
class LedgerStatus:
    """Digests per ledger state (``in_progress`` = claimed + sending) for one period or all of them."""

    period: str | None
    sent: int
    uncertain: int
    exhausted: int
    failed: int
    in_progress: int
    claimed: int
    sending: int
    subscribers: dict[str, int]
    needs_attention: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ledger_status(*, engine: Engine, period: str | None = None, limit: int = 100) -> LedgerStatus:
    """Counts for ``period`` (all periods when None) and up to ``limit`` rows that need attention."""
    with engine.connect() as conn:
        counts = ledger_counts(conn=conn, period=period)
        rows = ledger_rows(conn=conn, period=period, statuses=ATTENTION)
        subscribers = count_by_status(conn=conn)
    attention = [
        {
            "email": r["email"],
            "period": r["period"],
            "status": r["status"],
            "attempts": r["attempts"],
            "error": r["error"],
            "message_id": r["message_id"],
        }
        for r in rows[-limit:]
    ]
    return LedgerStatus(
        period=period,
        sent=counts["sent"],
        uncertain=counts["uncertain"],
        exhausted=counts["exhausted"],
        failed=counts["failed"],
        in_progress=counts["claimed"] + counts["sending"],
        claimed=counts["claimed"],
        sending=counts["sending"],
        subscribers=subscribers,
        needs_attention=attention,
    )
