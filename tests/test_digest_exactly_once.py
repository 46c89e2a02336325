"""Exactly-once digest mail when the outcome of a send is unknown, and only a claim's holder settles it.

The SMTP server is a real aiosmtpd server. Its "store-drop" reply stores the message and then closes the
connection without answering: the sender cannot know the message arrived. Such a digest must never be
sent again automatically, and the run report, the ledger and ``paperfeed digest status`` must say
``uncertain``."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import Settings
from paperfeed.digest.compose import build_digest
from paperfeed.digest.deliver import DeliveryCounts, claim_for, deliver
from paperfeed.digest.mailer import Mailer, build_message
from paperfeed.digest.render import render_digest
from paperfeed.digest.send import SendOptions, send_digests
from paperfeed.store import send_ledger as ledger
from paperfeed.store.papers import upsert_papers
from paperfeed.store.subscriptions import get_subscriber
from tests.factories import make_paper
from tests.smtp_server import SmtpServer, add_active, free_port, mail_settings, smtp, upvote  # noqa: F401

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = NOW.date().isoformat()


@pytest.fixture
def world(engine: Engine, settings: Settings, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Settings:  # noqa: F811
    """One trending paper; the CLI's environment points at this store and SMTP server."""
    paper = make_paper(title="A Paper Everyone Upvoted", published=NOW - timedelta(hours=1))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    upvote(engine, paper.id, 2)
    return mail_settings(settings, smtp, monkeypatch, mail_from="d@paperfeed.test")


def _cli(*args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.stdout.strip(), result.output
    return result.exit_code, json.loads(result.stdout), result.stderr


def _statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r["email"]: r["status"] for r in ledger.ledger_rows(conn=conn)}


def _claim_taken_over(engine: Engine, email: str) -> tuple[int, ledger.Claim, ledger.Claim | None]:
    """A subscriber due a digest that worker "a" claimed and, once "a" stalled past the staleness limit,
    worker "b" took over: the subscriber's id, a's claim and b's claim."""
    sub_id = add_active(engine, email, send_hour=0)
    with engine.begin() as conn:
        mine = ledger.claim_digest(
            conn=conn, subscriber_id=sub_id, period=PERIOD, worker="host:1:a", now=NOW, message_id="<m@x>"
        )
    assert mine is not None
    taken = claim_for(
        engine=engine,
        subscriber_id=sub_id,
        period=PERIOD,
        message_id="<m@x>",
        worker="host:2:b",
        stale_after=timedelta(0),
        max_attempts=8,
    )
    return sub_id, mine, taken.claim


def test_connection_dropped_after_data_means_one_copy_across_two_runs_reported_uncertain(
    world: Settings, engine: Engine, smtp: SmtpServer
) -> None:  # noqa: F811
    add_active(engine, "first@example.org", send_hour=0)
    add_active(engine, "second@example.org", send_hour=0)
    smtp.handler.data_replies = ["store-drop"]  # the first digest arrives, its sender never hears so
    code, report, stderr = _cli("digest", "send", "--now", NOW.isoformat())
    assert code == 0, stderr
    assert (report["sent"], report["uncertain"], report["failed"], report["resent_uncertain"]) == (1, 1, 0, 0)
    assert "may or may not have been delivered" in stderr
    assert _statuses(engine) == {"first@example.org": "uncertain", "second@example.org": "sent"}

    code, report, _ = _cli("digest", "send", "--now", NOW.isoformat())
    assert code == 0 and report["sent"] == 0 and report["uncertain"] == 0 and report["already_uncertain"] == 1
    assert Counter(m.rcpt[0] for m in smtp.handler.messages) == {"first@example.org": 1, "second@example.org": 1}

    code, status, _ = _cli("digest", "status")
    assert code == 0 and (status["sent"], status["uncertain"], status["in_progress"]) == (1, 1, 0)
    [row] = status["needs_attention"]  # type: ignore[misc]
    assert row["email"] == "first@example.org" and row["status"] == "uncertain"
    assert "no reply" in row["error"]


def test_a_claim_held_by_another_worker_cannot_be_settled(world: Settings, engine: Engine) -> None:
    # worker "a" stalls past the staleness limit: worker "b" takes the claim over
    sub_id, mine, theirs = _claim_taken_over(engine, "held@example.org")
    assert theirs is not None and theirs.attempts == 2
    with engine.begin() as conn:
        assert not ledger.mark_sending(conn=conn, claim=mine)
        assert not ledger.mark_sent(conn=conn, claim=mine, paper_ids=["p1"], now=NOW)
        assert not ledger.mark_failed(
            conn=conn, claim=mine, error="x", bounce=True, suspend_after=1, max_attempts=8
        ).held
        assert not ledger.release_claim(conn=conn, claim=mine)
        row = ledger.ledger_row(conn=conn, subscriber_id=sub_id, period=PERIOD)
        sub = get_subscriber(conn=conn, subscriber_id=sub_id)
    assert row is not None and (row["status"], row["claimed_by"], row["papers"]) == ("claimed", "host:2:b", None)
    assert sub is not None and sub.status == "active" and sub.bounce_count == 0  # the stray bounce counted nothing
    with engine.begin() as conn:  # the holder can; and once ``sending``, a failure never overwrites it
        assert ledger.mark_sending(conn=conn, claim=theirs)
        assert not ledger.mark_failed(
            conn=conn, claim=theirs, error="x", bounce=False, suspend_after=3, max_attempts=8
        ).held
        assert ledger.mark_uncertain(conn=conn, claim=theirs, error="no reply", paper_ids=["p1"])
    assert _statuses(engine) == {"held@example.org": "uncertain"}


def test_a_sender_that_lost_its_claim_sends_nothing(world: Settings, engine: Engine, smtp: SmtpServer) -> None:  # noqa: F811
    sub_id, mine, _ = _claim_taken_over(engine, "lost@example.org")
    with engine.begin() as conn:
        sub = get_subscriber(conn=conn, subscriber_id=sub_id)
        assert sub is not None
        digest = build_digest(conn=conn, searcher=None, subscriber=sub, now=NOW)
    msg = build_message(
        settings=world, to=sub.email, mail=render_digest(digest=digest, settings=world), message_id="<m@x>"
    )
    counts = DeliveryCounts()
    with Mailer(world) as mailer:
        deliver(
            engine=engine,
            mailer=mailer,
            claim=mine,
            digest=digest,
            msg=msg,
            suspend_after=3,
            max_attempts=8,
            counts=counts,
        )
    assert smtp.handler.messages == [] and (counts.sent, counts.in_progress) == (0, 1)
    assert _statuses(engine) == {"lost@example.org": "claimed"}


def test_a_digest_that_keeps_failing_is_exhausted_and_counted(
    world: Settings, engine: Engine, smtp: SmtpServer
) -> None:  # noqa: F811
    add_active(engine, "greylisted@example.org", send_hour=0)
    smtp.handler.rcpt_replies = ["451 4.7.1 try again later"] * 10
    opts = SendOptions(max_attempts=2)
    reports = [
        send_digests(
            engine=engine, settings=world, searcher=None, now=NOW, mailer=Mailer(world, retries=0), options=opts
        )
        for _ in range(3)
    ]
    assert [(r.failed, r.exhausted, r.already_exhausted) for r in reports] == [(1, 0, 0), (1, 1, 0), (0, 0, 1)]
    assert smtp.handler.rcpt_count == 2 and smtp.handler.messages == []
    assert _statuses(engine) == {"greylisted@example.org": "exhausted"}
    code, status, _ = _cli("digest", "status")
    assert code == 0 and status["exhausted"] == 1 and status["needs_attention"][0]["attempts"] == 2  # type: ignore[index]


def test_an_unreachable_server_releases_the_claim_without_spending_an_attempt(
    world: Settings, engine: Engine, smtp: SmtpServer
) -> None:  # noqa: F811
    add_active(engine, "patient@example.org", send_hour=0)
    down = world.model_copy(update={"smtp_port": free_port()})
    report = send_digests(engine=engine, settings=down, searcher=None, now=NOW, mailer=Mailer(down, retries=0))
    assert report.failed == 1 and "cannot connect" in report.errors[0]["error"]
    assert _statuses(engine) == {}  # nothing claimed, nothing counted against the subscriber
    report = send_digests(engine=engine, settings=world, searcher=None, now=NOW)
    assert report.sent == 1 and len(smtp.handler.to("patient@example.org")) == 1
    with engine.connect() as conn:
        [row] = ledger.ledger_rows(conn=conn)
    assert row["attempts"] == 1
