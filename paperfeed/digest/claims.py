"""Who may send a (subscriber, period) digest: claim its ledger row, or decide what an existing row means.

- no row: an atomic INSERT claims it;
- ``failed``, or ``claimed`` by a sender that is gone (dead process on this host, or no news for
  ``stale_after``): taken over with a compare-and-set UPDATE, unless it reached the attempt limit, in which
  case it is settled ``exhausted``;
- ``sending`` by a sender that is gone: the message may have been delivered, so it is settled
  ``uncertain`` and never sent again automatically;
- anything else is held by a live sender (``in_progress``) or final.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.store.send_ledger import Claim, claim_digest, ledger_row, settle_abandoned, take_over

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
