"""Digest commands: ``digest send`` (for cron), ``digest status``, ``digest preview EMAIL`` and the
long-running ``worker`` (its loop lives in :mod:`paperfeed.digest.send`)."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from sqlalchemy import Engine

from paperfeed.cli import app
from paperfeed.cli.common import DbOption, JsonOption, console, fail, get_engine, get_settings, print_json
from paperfeed.config import Settings
from paperfeed.digest.compose import build_digest
from paperfeed.digest.deliver import ledger_status
from paperfeed.digest.mailer import AddressError, normalise_address
from paperfeed.digest.render import render_digest
from paperfeed.digest.send import SendReport, run_worker, send_digests
from paperfeed.search.factory import make_searcher
from paperfeed.search.protocols import Searcher
from paperfeed.store.subscriptions import get_subscriber

digest_app = typer.Typer(help="Email digests: send the due ones, show the ledger, preview one.", no_args_is_help=True)
app.add_typer(digest_app, name="digest")

NowOption = Annotated[
    str | None,
    typer.Option("--now", metavar="ISO-TIME", help="Act as if it were this time (UTC unless it has an offset)."),
]


def _parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"--now: {value!r} is not an ISO time such as 2026-11-23T08:00:00Z")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def digest_searcher(engine: Engine, settings: Settings) -> Searcher | None:
    """The search service for topics and "for you", or None (with a warning) when it cannot be built."""
    try:
        searcher = make_searcher(engine=engine, settings=settings)
        searcher.catch_up(blocking=False)  # digests are composed from an index in step with the store
        return searcher
    except Exception as exc:  # noqa: BLE001 - topics need search; trending does not
        console.print(f"[yellow]warning:[/yellow] search unavailable, topics are skipped: {exc}")
        return None


def _warn_uncertain(report: SendReport) -> None:
    """Uncertain digests need a person: say so on stderr whatever the output format."""
    if report.uncertain:
        print(
            f"warning: {report.uncertain} digest(s) may or may not have been delivered (the connection broke after "
            "SMTP DATA started); they are not resent. See `paperfeed digest status`.",
            file=sys.stderr,
        )


@digest_app.command("send")
def send(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write .eml files to <data dir>/outbox; send nothing, record nothing.")
    ] = False,
    now: NowOption = None,
    user: Annotated[str | None, typer.Option("--user", metavar="EMAIL", help="Only this subscriber.")] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Send every digest that is due now, exactly once per subscriber and period (safe to re-run)."""
    settings = get_settings(db)
    moment = _parse_now(now)
    only = None
    if user is not None:
        try:
            only = normalise_address(user)
        except AddressError as exc:
            fail(f"--user: {exc}")
    if not dry_run and not settings.emails_enabled:
        fail(f"email is not configured: set {' and '.join(settings.mail_settings_missing)} (or use --dry-run)")
    if dry_run and not settings.base_url.strip():
        console.print(
            "[yellow]warning:[/yellow] PAPERFEED_BASE_URL is not set: links in these mails are relative "
            "(/papers/...) and would not work in a mail client; set it before sending for real",
            highlight=False,
            soft_wrap=True,
        )
    engine = get_engine(settings)
    report = send_digests(
        engine=engine,
        settings=settings,
        searcher=digest_searcher(engine, settings),
        now=moment,
        dry_run=dry_run,
        only_email=only,
    )
    if as_json:
        print_json(report.as_dict())
    else:
        if report.due == 0:
            typer.echo("nothing due: no active subscriber has reached their sending hour for a new period")
        typer.echo(report.summary())
        for err in report.errors[:20]:
            console.print(f"[yellow]failed[/yellow] {err['email']} ({err['period']}): {err['error']}", highlight=False)
        for path in report.written[:20]:
            typer.echo(f"wrote {path}")
    _warn_uncertain(report)
    if report.failed:
        raise typer.Exit(1)


@digest_app.command("status")
def status(
    period: Annotated[
        str | None, typer.Option("--period", metavar="PERIOD", help="Only this period (2026-11-23 or 2026-W48).")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show the send ledger: digests sent, uncertain (never resent), exhausted, failed and in progress."""
    settings = get_settings(db)
    state = ledger_status(engine=get_engine(settings), period=period)
    if as_json:
        print_json(state.as_dict())
        return
    scope = f"period {period}" if period else "all periods"
    typer.echo(
        f"{scope}: sent {state.sent}, uncertain {state.uncertain}, exhausted {state.exhausted}, "
        f"failed {state.failed} (retried next run), in progress {state.in_progress}"
    )
    typer.echo("subscribers: " + ", ".join(f"{k} {v}" for k, v in state.subscribers.items()))
    for row in state.needs_attention:
        typer.echo(f"{row['status']:<9} {row['email']} ({row['period']}, {row['attempts']} attempts): {row['error']}")


@digest_app.command("preview")
def preview(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The subscriber's address.")],
    now: NowOption = None,
    html: Annotated[bool, typer.Option("--html", help="Print the HTML part instead of the text.")] = False,
    db: DbOption = None,
) -> None:
    """Print the digest this subscriber would get now (nothing is sent or recorded)."""
    settings = get_settings(db)
    try:
        address = normalise_address(email)
    except AddressError as exc:
        fail(str(exc))
    engine = get_engine(settings)
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, email=address)
        if sub is None:
            fail(f"no subscriber with address {address}")
        digest = build_digest(
            conn=conn, searcher=digest_searcher(engine, settings), subscriber=sub, now=_parse_now(now)
        )
    if digest.is_empty:
        typer.echo(f"nothing to send to {address} now (status {sub.status}): no new papers for them")
        return
    mail = render_digest(digest=digest, settings=settings)
    typer.echo(f"Subject: {mail.subject}\n")
    typer.echo(mail.html if html else mail.text)


@app.command()
def worker(
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, metavar="SECONDS", help="How often to look for due digests.")
    ] = 60.0,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (same as --max-cycles 1).")] = False,
    max_cycles: Annotated[
        int | None, typer.Option("--max-cycles", min=1, metavar="N", help="Exit after N cycles (default: run forever).")
    ] = None,
    now: NowOption = None,
    db: DbOption = None,
) -> None:
    """Run forever: send each subscriber's digest at their hour in their time zone, and keep the search
    indexes in step with the store (the instance's one index writer, when no server holds it; without mail
    settings it does only that). Stops cleanly on SIGTERM or Ctrl-C (the digest being sent is finished and
    recorded first). With --now the clock starts at that time and advances in real time (to test a schedule)."""
    settings = get_settings(db)
    missing = f"email is not configured: set {' and '.join(settings.mail_settings_missing)}"
    if not settings.emails_enabled and not settings.index_writer:
        fail(missing)
    skew = _parse_now(now) - datetime.now(UTC) if now else timedelta(0)
    engine = get_engine(settings)
    searcher = digest_searcher(engine, settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        console.print(f"worker: got signal {signum}, stopping after the current digest")
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    halt_writer = None
    if settings.index_writer:  # WRITER: the one index writer of the instance, when this worker holds its lease
        from paperfeed.search.writer import start_index_writer

        halt_writer = start_index_writer(engine=engine, settings=settings, model=searcher.model if searcher else None)
        console.print("worker: keeping the search indexes in step with the store (when no server does)")
    if not settings.emails_enabled:
        console.print(f"worker: no digests: {missing}")
        stop.wait()
        if halt_writer is not None:
            halt_writer()
        console.print("worker: stopped")
        return
    limit = 1 if once else max_cycles
    console.print(f"worker: checking for due digests every {interval:g}s")
    cycles = run_worker(
        engine=engine,
        settings=settings,
        searcher=searcher,
        interval=interval,
        stop=stop,
        say=lambda line: console.print(line, highlight=False),
        max_cycles=limit,
        skew=skew,
    )
    if halt_writer is not None:
        halt_writer()
    console.print(f"worker: stopped after {cycles} cycle{'s' if cycles != 1 else ''}")
