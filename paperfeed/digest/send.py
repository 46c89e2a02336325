"""Send every due digest exactly once per period: who is due and when, compose, claim in the ledger, SMTP,
settle; and the long-running worker behind ``paperfeed worker``.

Per due subscriber: compose (read only; an empty digest is skipped and claims nothing), claim the
(subscriber, period) ledger row (:func:`paperfeed.digest.deliver.claim_for`), then deliver it
(:func:`paperfeed.digest.deliver.deliver`): ``sending`` just before the SMTP DATA command, ``sent`` right
after the server accepted the message, ``uncertain`` if the connection broke in between. Once DATA has
started a digest is never sent again automatically. See ``docs/digest.md``.

Schedule: a subscriber is due when, in their own time zone, their sending hour has come:
- ``daily``: every day from ``send_hour`` on; period key ``YYYY-MM-DD`` (their local date);
- ``weekdays``: Monday to Friday from ``send_hour`` on; same key as daily (switching between the two never
  yields two digests on one day);
- ``weekly``: from Monday ``send_hour`` on, once per ISO week; period key ``YYYY-Www``.
Because "due" lasts until the end of the period, a cron run that is late (or a machine that was down)
still sends the digest when it comes back; the ledger makes a second run within the period a no-op.

Worker (:func:`run_worker`): one :func:`send_digests` pass every ``interval`` seconds until ``stop`` is set
(the CLI sets it on SIGTERM / Ctrl-C) or ``max_cycles`` ran. A pass that raises is reported and the loop
goes on: the ledger keeps every pass safe to repeat.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.compose import ComposeCache, Digest, build_digest
from paperfeed.digest.deliver import DeliveryCounts, claim_for, deliver, worker_name
from paperfeed.digest.mailer import AddressError, ConnectFailure, Mailer, build_message, make_message_id
from paperfeed.digest.render import render_digest
from paperfeed.rank.foryou import DenseLike
from paperfeed.search.protocols import Searcher
from paperfeed.store.send_ledger import final_statuses
from paperfeed.store.subscriptions import Subscriber, list_subscribers


def zone(name: str) -> ZoneInfo:
    """The subscriber's time zone; an unknown name (should not be stored) falls back to UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_valid_timezone(name: str) -> bool:
    if not name or len(name) > 64 or ".." in name or name.startswith("/"):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def common_timezones() -> list[str]:
    """Every IANA zone name known to this system, sorted (for the preferences form)."""
    return sorted(z for z in available_timezones() if "/" in z or z == "UTC")


def period_key(frequency: str, local: datetime) -> str:
    """The period a send at local time ``local`` belongs to."""
    if frequency == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.date().isoformat()


def due_period(sub: Subscriber, now: datetime) -> str | None:
    """The period key if ``sub`` is due at ``now``, else None (wrong day or hour not reached)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    local = now.astimezone(zone(sub.timezone))
    hour_reached = local.hour >= sub.send_hour
    if sub.frequency == "weekly":
        if local.weekday() == 0 and not hour_reached:
            return None
    elif not hour_reached or (sub.frequency == "weekdays" and local.weekday() >= 5):
        return None
    return period_key(sub.frequency, local)


STALE_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 8
SUSPEND_AFTER = 3


@dataclass
class SendReport(DeliveryCounts):
    """What one run did. ``skipped`` = not due + already final this period (sent, uncertain, exhausted) +
    held by another sender + empty. ``uncertain``/``exhausted`` count rows that became so in this run."""

    now: str = ""
    dry_run: bool = False
    skipped: int = 0  # the sum in the docstring
    due: int = 0  # subscribers whose send hour has come this period
    not_due: int = 0  # active subscribers not due yet
    already_sent: int = 0  # final rows of this period found by the run
    already_uncertain: int = 0
    already_exhausted: int = 0
    empty: int = 0  # nothing new to send: no claim made
    resent_uncertain: int = 0  # always 0: a digest whose DATA started is never sent again
    not_attempted: int = 0  # left when the server became unreachable or the run was stopped
    would_send: int = 0  # dry run: .eml files written
    written: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        order = ("now", "dry_run", "sent", "skipped", "failed", "uncertain", "exhausted", "due", "not_due")
        data = asdict(self)
        return {**{k: data[k] for k in order}, **{f.name: data[f.name] for f in fields(self) if f.name not in order}}

    def summary(self) -> str:
        """One line for people: what was sent, failed, skipped and why."""
        if self.dry_run:
            head = f"dry run: {self.would_send} digests written, nothing sent or recorded"
        else:
            head = f"sent {self.sent}, failed {self.failed}"
        parts = [
            f"skipped {self.skipped} (not due {self.not_due}, already sent {self.already_sent}, "
            f"in progress elsewhere {self.in_progress}, empty {self.empty})"
        ]
        if self.uncertain:
            parts.append(f"uncertain {self.uncertain} (DATA started, no answer from the server; not resent)")
        if self.exhausted:
            parts.append(f"exhausted {self.exhausted} (gave up after {MAX_ATTEMPTS} attempts)")
        if self.already_uncertain or self.already_exhausted:
            parts.append(
                f"left alone {self.already_uncertain} uncertain and {self.already_exhausted} exhausted from "
                "earlier runs (see `paperfeed digest status`)"
            )
        if self.bounced:
            parts.append(f"bounced {self.bounced}, suspended {self.suspended}")
        if self.not_attempted:
            parts.append(f"not attempted {self.not_attempted} (retried next run)")
        return head + ", " + ", ".join(parts)


@dataclass
class SendOptions:
    stale_after: timedelta = STALE_AFTER
    max_attempts: int = MAX_ATTEMPTS
    suspend_after: int = SUSPEND_AFTER
    outbox: Path | None = None
    worker: str = field(default_factory=worker_name)


def _write_eml(outbox: Path, period: str, sub: Subscriber, data: bytes) -> Path:
    folder = outbox / period
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sub.id}-{''.join(c if c.isalnum() or c in '@.-_' else '_' for c in sub.email)}.eml"
    tmp = path.with_suffix(".eml.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def due_subscribers(
    *, engine: Engine, now: datetime, only_email: str | None, report: SendReport
) -> list[tuple[Subscriber, str]]:
    """Active subscribers due at ``now`` whose digest for the period is not final yet."""
    with engine.connect() as conn:
        subs = list_subscribers(conn=conn, email=only_email)
        due = [(s, p) for s in subs if (p := due_period(s, now)) is not None]
        final = final_statuses(conn=conn, periods=[p for _, p in due])
    report.not_due = len(subs) - len(due)
    todo = [(s, p) for s, p in due if (s.id, p) not in final]
    for status in final.values():
        setattr(report, f"already_{status}", getattr(report, f"already_{status}") + 1)
    report.due = len(due)
    return todo


def send_digests(
    *,
    engine: Engine,
    settings: Settings,
    searcher: Searcher | None,
    now: datetime | None = None,
    dry_run: bool = False,
    only_email: str | None = None,
    dense: DenseLike | None = None,
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
    report.skipped = (
        report.not_due
        + report.already_sent
        + report.already_uncertain
        + report.already_exhausted
        + report.in_progress
        + report.empty
    )
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
        report.error(digest, period, str(exc))
        return True
    if mailer is None:  # dry run: nothing claimed, nothing sent
        outbox = opts.outbox or settings.data_dir / "outbox"
        report.written.append(str(_write_eml(outbox, period, sub, msg.as_bytes())))
        report.would_send += 1
        return True
    outcome = claim_for(
        engine=engine,
        subscriber_id=sub.id,
        period=period,
        message_id=message_id,
        worker=opts.worker,
        stale_after=opts.stale_after,
        max_attempts=opts.max_attempts,
    )
    if outcome.claim is None:
        setattr(report, outcome.why, getattr(report, outcome.why) + 1)
        return True
    msg.replace_header("Message-ID", outcome.claim.message_id or message_id)
    try:
        deliver(
            engine=engine,
            mailer=mailer,
            claim=outcome.claim,
            digest=digest,
            msg=msg,
            suspend_after=opts.suspend_after,
            max_attempts=opts.max_attempts,
            counts=report,
        )
    except ConnectFailure:
        return False
    return True


def run_worker(
    *,
    engine: Engine,
    settings: Settings,
    searcher: Searcher | None,
    interval: float,
    stop: threading.Event,
    say: Callable[[str], None],
    max_cycles: int | None = None,
    skew: timedelta = timedelta(0),
) -> int:
    """Run passes until stopped; returns how many ran. ``skew`` shifts the clock (``--now``)."""
    cycles = 0
    while not stop.is_set():
        run_cycle(
            engine=engine,
            settings=settings,
            searcher=searcher,
            moment=datetime.now(UTC) + skew,
            stop=stop,
            say=say,
            verbose=max_cycles is not None,
        )
        cycles += 1
        if max_cycles is not None and cycles >= max_cycles:
            break
        stop.wait(interval)
    return cycles


def run_cycle(
    *,
    engine: Engine,
    settings: Settings,
    searcher: Searcher | None,
    moment: datetime,
    stop: threading.Event,
    say: Callable[[str], None],
    verbose: bool,
) -> None:
    """One pass; a failure is reported and swallowed. A pass that did nothing is only reported when
    ``verbose`` (bounded runs)."""
    try:
        report = send_digests(engine=engine, settings=settings, searcher=searcher, now=moment, should_stop=stop.is_set)
    except Exception as exc:  # noqa: BLE001 - keep the scheduler alive
        say(f"worker: run failed: {exc}")
        return
    if verbose or report.sent or report.failed or report.uncertain or report.exhausted:
        say(f"worker {report.now}: {report.summary()}")
