"""Faults: SIGKILL mid-batch, SMTP 421/451 then success, 550 bounces, server down, concurrent senders.

The sender runs as a real ``paperfeed digest send`` process where the fault needs one (kill, concurrency);
the SMTP server is a real aiosmtpd server whose handler is scripted by the test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.mailer import Mailer
from paperfeed.digest.send import send_digests
from paperfeed.store.papers import upsert_papers
from paperfeed.store.send_ledger import ledger_rows
from paperfeed.store.subscriptions import get_subscriber
from tests.factories import make_paper
from tests.smtp_server import SmtpServer, add_active, free_port, sending_through, smtp, upvote  # noqa: F401

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def world(engine: Engine) -> Engine:
    """One trending paper, published an hour ago."""
    paper = make_paper(title="A Paper Everyone Upvoted", published=NOW - timedelta(hours=1))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    upvote(engine, paper.id, 2)
    return engine


def _env(settings: Settings, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(port),
        "PAPERFEED_MAIL_FROM": "digest@paperfeed.test",
        "PAPERFEED_MAIL_RATE_LIMIT": "0",
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_BASE_URL": "http://testserver",
    }
    return env


def _start(settings: Settings, port: int, tmp_path: Path) -> subprocess.Popen[str]:
    code = "from paperfeed.cli import main; main()"
    args = ["digest", "send", "--json", "--now", NOW.isoformat()]
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        env=_env(settings, port),
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, dict[str, int]]:
    out, err = proc.communicate(timeout=120)
    assert out.strip(), err
    return proc.returncode, json.loads(out.strip().splitlines()[-1])


def _subscribers(engine: Engine, n: int) -> list[str]:
    emails = [f"reader{i}@example.org" for i in range(n)]
    for e in emails:
        add_active(engine, e, send_hour=0)
    return emails


def _stall_on(nth: int) -> tuple[threading.Event, Callable[..., float]]:
    """A reply delay for the SMTP handler's ``on_rcpt`` or ``on_data``: the ``nth`` command waits 30 s for its
    reply (and sets the event), the others none."""
    reached = threading.Event()

    def stall(n: int, *_: object) -> float:
        if n == nth:
            reached.set()
            return 30.0
        return 0.0

    return reached, stall


def _kill_when(event: threading.Event, proc: subprocess.Popen[str]) -> None:
    assert event.wait(60), "the sender never reached the kill point"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_sigkill_mid_batch_then_rerun_sends_each_digest_exactly_once(
    world: Engine, settings: Settings, smtp: SmtpServer, tmp_path: Path
) -> None:  # noqa: F811
    emails = _subscribers(world, 6)
    reached, smtp.handler.on_rcpt = _stall_on(4)  # the sender is blocked waiting for this RCPT reply when killed
    proc = _start(settings, smtp.port, tmp_path)
    _kill_when(reached, proc)
    assert proc.returncode == -signal.SIGKILL
    assert len(smtp.handler.messages) == 3
    smtp.handler.on_rcpt = None
    code, report = _finish(_start(settings, smtp.port, tmp_path))
    assert code == 0 and report["sent"] == 3 and report["already_sent"] == 3
    assert Counter(m.rcpt[0] for m in smtp.handler.messages) == dict.fromkeys(emails, 1)
    code, report = _finish(_start(settings, smtp.port, tmp_path))  # and a third run is a no-op
    assert code == 0 and report["sent"] == 0 and len(smtp.handler.messages) == 6


def test_kill_after_the_server_accepted_but_before_the_ledger_knew_is_never_resent(
    world: Engine, settings: Settings, smtp: SmtpServer, tmp_path: Path
) -> None:  # noqa: F811
    """DATA accepted, process killed before its commit: the re-run does not resend that digest (the server
    may have it); it settles the row ``uncertain``, counts it and sends the others."""
    emails = _subscribers(world, 3)
    reached, smtp.handler.on_data = _stall_on(2)
    proc = _start(settings, smtp.port, tmp_path)
    _kill_when(reached, proc)
    smtp.handler.on_data = None
    code, report = _finish(_start(settings, smtp.port, tmp_path))
    assert code == 0 and report["uncertain"] == 1 and report["sent"] == 1 and report["resent_uncertain"] == 0
    assert Counter(m.rcpt[0] for m in smtp.handler.messages) == dict.fromkeys(emails, 1)
    with world.connect() as conn:
        statuses = Counter(r["status"] for r in ledger_rows(conn=conn))
    assert statuses == {"sent": 2, "uncertain": 1}
    code, report = _finish(_start(settings, smtp.port, tmp_path))  # a third run leaves it alone
    assert code == 0 and report["sent"] == 0 and report["already_uncertain"] == 1 and len(smtp.handler.messages) == 3


def test_421_451_and_dropped_connections_are_retried_until_success(
    world: Engine, settings: Settings, smtp: SmtpServer
) -> None:  # noqa: F811
    _subscribers(world, 2)
    smtp.handler.rcpt_replies = ["451 4.7.1 greylisted, try again", "drop"]
    smtp.handler.data_replies = ["421 4.3.2 shutting down"]
    s = sending_through(settings, smtp.port)
    report = send_digests(engine=world, settings=s, searcher=None, now=NOW, mailer=Mailer(s, backoff=0.01))
    assert (report.sent, report.failed) == (2, 0)
    assert sorted(m.rcpt[0] for m in smtp.handler.messages) == ["reader0@example.org", "reader1@example.org"]


def test_550_bounces_are_recorded_and_suspend_the_address_after_three(
    world: Engine, settings: Settings, smtp: SmtpServer
) -> None:  # noqa: F811
    add_active(world, "gone@example.org", send_hour=0)
    add_active(world, "fine@example.org", send_hour=0)
    smtp.handler.bounce = {"gone@example.org"}
    s = sending_through(settings, smtp.port)
    for run in range(1, 4):
        report = send_digests(engine=world, settings=s, searcher=None, now=NOW, mailer=Mailer(s, backoff=0.01))
        assert report.failed == 1 and report.bounced == 1 and report.suspended == int(run == 3)
        with world.connect() as conn:
            gone = get_subscriber(conn=conn, email="gone@example.org")
        assert gone is not None and gone.bounce_count == run
        assert gone.status == ("suspended" if run == 3 else "active")
    assert smtp.handler.rcpt_count == 4  # one RCPT per bounce run, never retried within a run, + fine once
    report = send_digests(engine=world, settings=s, searcher=None, now=NOW, mailer=Mailer(s, backoff=0.01))
    assert report.sent == report.failed == 0 and smtp.handler.rcpt_count == 4
    assert len(smtp.handler.to("fine@example.org")) == 1
    with world.connect() as conn:
        [row] = [r for r in ledger_rows(conn=conn) if r["status"] == "failed"]
    assert "550" in row["error"] and row["attempts"] == 3


def test_server_down_fails_non_zero_and_the_next_run_delivers(
    world: Engine, settings: Settings, smtp: SmtpServer, tmp_path: Path
) -> None:  # noqa: F811
    emails = _subscribers(world, 3)
    code, report = _finish(_start(settings, free_port(), tmp_path))
    assert code != 0 and report["failed"] == 1 and report["not_attempted"] == 2 and report["sent"] == 0
    code, report = _finish(_start(settings, smtp.port, tmp_path))
    assert code == 0 and report["sent"] == 3
    assert Counter(m.rcpt[0] for m in smtp.handler.messages) == dict.fromkeys(emails, 1)


def test_two_concurrent_senders_never_send_the_same_digest(
    world: Engine, settings: Settings, smtp: SmtpServer, tmp_path: Path
) -> None:  # noqa: F811
    emails = _subscribers(world, 24)
    smtp.handler.on_rcpt = lambda n, a: 0.02  # keep both senders busy at the same time
    procs = [_start(settings, smtp.port, tmp_path) for _ in range(2)]
    results = [_finish(p) for p in procs]
    assert all(code == 0 for code, _ in results)
    assert sum(r["sent"] for _, r in results) == 24
    assert Counter(m.rcpt[0] for m in smtp.handler.messages) == dict.fromkeys(emails, 1)


def test_send_rate_is_bounded(world: Engine, settings: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    _subscribers(world, 5)
    s = sending_through(settings, smtp.port, mail_rate_limit=20)
    started = time.monotonic()
    report = send_digests(engine=world, settings=s, searcher=None, now=NOW)
    assert report.sent == 5 and time.monotonic() - started >= 4 / 20
