"""One claimed digest through SMTP, with the ledger kept in step by its holder:

``claimed`` -> ``sending`` (own commit, just before DATA; if that fails the claim is lost and nothing is
sent) -> ``sent`` after the server's 250, or ``uncertain`` when the connection broke after DATA started
(never sent again), or back to ``claimed`` when the server refused the data with a reply (retried). A
failure before DATA makes the row ``failed`` (``exhausted`` at the attempt limit); a run that stops before
DATA for any other reason (server unreachable, an error, an interrupt) releases the claim.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from sqlalchemy import Engine

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
    mark_failed,
    mark_refused,
    mark_sending,
    mark_sent,
    mark_uncertain,
    release_claim,
)

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
