"""Send every due digest exactly once per period: compose, claim in the ledger, SMTP, settle.

Per due subscriber: compose (read only; an empty digest is skipped and claims nothing), claim the
(subscriber, period) ledger row (atomic INSERT, or compare-and-set takeover of a failed row or of a claim
whose sender died), mark it ``sending`` right before the SMTP DATA command, and mark it ``sent`` right after
the server accepted the message. A crash anywhere but between DATA and that last commit leaves a row that
is provably unsent (``claimed``) or absent, and the next run sends it once. See ``docs/digest.md``.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.compose import ComposeCache, Digest, build_digest
from paperfeed.digest.mailer import (
    AddressError,
    ConnectFailure,
    Mailer,
    PermanentFailure,
    TransientFailure,
    build_message,
    make_message_id,
)
from paperfeed.digest.render import render_digest
from paperfeed.digest.schedule import due_period
from paperfeed.store.subscriptions import (
    Claim,
    Subscriber,
    claim_digest,
    ledger_row,
    list_subscribers,
    mark_failed,
    mark_sending,
    mark_sent,
    settled_subscriber_ids,
    take_over,
)

log = logging.getLogger(__name__)
STALE_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 8
SUSPEND_AFTER = 3


@dataclass
class SendReport:
    """What one run did. ``skipped`` = not due + already sent this period + held by another sender + empty."""

    now: str
    dry_run: bool
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    due: int = 0
    not_due: int = 0
    already_sent: int = 0
    in_progress: int = 0
    empty: int = 0
    bounced: int = 0
    suspended: int = 0
    resent_uncertain: int = 0
    not_attempted: int = 0
    would_send: int = 0
    written: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SendOptions:
    stale_after: timedelta = STALE_AFTER
    max_attempts: int = MAX_ATTEMPTS
    suspend_after: int = SUSPEND_AFTER
    outbox: Path | None = None
    worker: str = field(default_factory=lambda: worker_name())


def worker_name() -> str:
    """``host:pid:run``: lets a later run on this host see that the claiming process is gone."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_dead(claimed_by: str, me: str) -> bool:
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


def _claim(engine: Engine, sub: Subscriber, period: str, message_id: str, opts: SendOptions) -> Claim | None:
    """Own this (subscriber, period) or learn that someone else does / did."""
    wall = datetime.now(UTC)
    with engine.begin() as conn:
        claim = claim_digest(
            conn=conn, subscriber_id=sub.id, period=period, worker=opts.worker, now=wall, message_id=message_id
        )
        if claim is not None:
            return claim
        row = ledger_row(conn=conn, subscriber_id=sub.id, period=period)
        if row is None or row["status"] == "sent":
            return None
        retryable = (
            row["status"] == "failed"
            or _owner_dead(row["claimed_by"], opts.worker)
            or row["claimed_at"] < wall - opts.stale_after
        )
        if not retryable:
            return None
        return take_over(conn=conn, row=row, worker=opts.worker, now=wall, max_attempts=opts.max_attempts)


def _write_eml(outbox: Path, period: str, sub: Subscriber, data: bytes) -> Path:
    folder = outbox / period
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sub.id}-{''.join(c if c.isalnum() or c in '@.-_' else '_' for c in sub.email)}.eml"
    tmp = path.with_suffix(".eml.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def _deliver(
    engine: Engine, mailer: Mailer, claim: Claim, digest: Digest, msg: Any, opts: SendOptions, report: SendReport
) -> None:
    """SMTP for one claimed digest and the ledger bookkeeping around it; raises ConnectFailure to abort."""

    def before_data() -> None:
        with engine.begin() as conn:
            mark_sending(conn=conn, claim=claim, worker=opts.worker)

    try:
        mailer.send(msg, before_data=before_data)
    except (PermanentFailure, TransientFailure, AddressError) as exc:
        bounce = isinstance(exc, PermanentFailure | AddressError)
        with engine.begin() as conn:
            suspended = mark_failed(
                conn=conn, claim=claim, error=str(exc), bounce=bounce, suspend_after=opts.suspend_after
            )
        report.failed += 1
        report.bounced += int(bounce)
        report.suspended += int(suspended)
        report.errors.append(
            {"email": digest.subscriber.email, "period": claim.period, "error": str(exc), "bounce": bounce}
        )
        if isinstance(exc, ConnectFailure):
            raise
        return
    with engine.begin() as conn:
        mark_sent(conn=conn, claim=claim, paper_ids=digest.paper_ids, now=digest.now)
    report.sent += 1
    report.resent_uncertain += int(claim.resumed_from == "sending")


def due_subscribers(
    *, engine: Engine, now: datetime, only_email: str | None, report: SendReport
) -> list[tuple[Subscriber, str]]:
    """Active subscribers due at ``now`` whose digest for the period is not settled yet."""
    with engine.connect() as conn:
        subs = list_subscribers(conn=conn, email=only_email)
        due = [(s, p) for s in subs if (p := due_period(s, now)) is not None]
        settled = settled_subscriber_ids(conn=conn, periods=[p for _, p in due])
    report.not_due = len(subs) - len(due)
    todo = [(s, p) for s, p in due if (s.id, p) not in settled]
    report.already_sent = len(due) - len(todo)
    report.due = len(due)
    return todo


def send_digests(
    *,
    engine: Engine,
    settings: Settings,
    searcher: Any,
    now: datetime | None = None,
    dry_run: bool = False,
    only_email: str | None = None,
    dense: Any = None,
    mailer: Mailer | None = None,
    options: SendOptions | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SendReport:
    """Compose and send every due digest at ``now``; with ``dry_run`` write .eml files and claim nothing."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    opts = options or SendOptions()
    report = SendReport(now=now.isoformat(), dry_run=dry_run)
    todo = due_subscribers(engine=engine, now=now, only_email=only_email, report=report)
    cache = ComposeCache()
    own_mailer = mailer is None and not dry_run
    mailer = mailer or (None if dry_run else Mailer(settings))
    try:
        with engine.connect() as read:
            for i, (sub, period) in enumerate(todo):
                if should_stop():
                    report.not_attempted += len(todo) - i
                    break
                digest = build_digest(conn=read, searcher=searcher, subscriber=sub, now=now, dense=dense, cache=cache)
                read.rollback()  # end the read snapshot: the next subscriber sees fresh data
                if digest.is_empty:
                    report.empty += 1
                    continue
                if not _one(engine, settings, mailer, digest, period, opts, report):
                    report.not_attempted += len(todo) - i - 1
                    break
    finally:
        if own_mailer and mailer is not None:
            mailer.close()
    report.skipped = report.not_due + report.already_sent + report.in_progress + report.empty
    return report


def _one(
    engine: Engine,
    settings: Settings,
    mailer: Mailer | None,
    digest: Digest,
    period: str,
    opts: SendOptions,
    report: SendReport,
) -> bool:
    """Send (or write) one digest; False when the server is unreachable and the run should stop."""
    sub = digest.subscriber
    message_id = make_message_id(settings, f"digest.{sub.id}.{period}")
    try:
        mail = render_digest(digest=digest, settings=settings)
        msg = build_message(settings=settings, to=sub.email, mail=mail, message_id=message_id)
    except AddressError as exc:
        report.failed += 1
        report.errors.append({"email": sub.email, "period": period, "error": str(exc), "bounce": False})
        return True
    if mailer is None:  # dry run: nothing claimed, nothing sent
        outbox = opts.outbox or settings.data_dir / "outbox"
        report.written.append(str(_write_eml(outbox, period, sub, msg.as_bytes())))
        report.would_send += 1
        return True
    claim = _claim(engine, sub, period, message_id, opts)
    if claim is None:
        report.in_progress += 1
        return True
    msg.replace_header("Message-ID", claim.message_id or message_id)
    try:
        _deliver(engine, mailer, claim, digest, msg, opts, report)
    except ConnectFailure:
        return False
    return True
