"""Composing digests: section order, each paper once, never a paper already sent, empty digests not sent,
hostile titles kept out of headers. Sent through a real aiosmtpd server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.compose import build_digest
from paperfeed.digest.mailer import AddressError, Mailer, build_message
from paperfeed.digest.render import RenderedMail, render_digest
from paperfeed.digest.send import send_digests
from paperfeed.store.papers import upsert_papers
from paperfeed.store.send_ledger import ledger_rows
from paperfeed.store.subscriptions import get_subscriber
from tests.factories import make_paper
from tests.searchers import indexed_searcher
from tests.smtp_server import SmtpServer, add_active, mail_settings, smtp, upvote  # noqa: F401

DAY1 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def _mail(settings: Settings, smtp: SmtpServer) -> Settings:  # noqa: F811
    return mail_settings(settings, smtp)


def _send(engine: Engine, settings: Settings, now: datetime, searcher: object = None) -> dict[str, int]:
    report = send_digests(
        engine=engine, settings=settings, searcher=searcher, now=now, mailer=Mailer(settings, backoff=0.01)
    )
    return {"sent": report.sent, "empty": report.empty, "failed": report.failed}


def test_a_paper_is_never_sent_twice_and_an_empty_digest_is_not_sent(
    engine: Engine, settings: Settings, smtp: SmtpServer
) -> None:  # noqa: F811
    s = _mail(settings, smtp)
    a, b = (
        make_paper(title="Paper A", published=DAY1 - timedelta(hours=3)),
        make_paper(title="Paper B", published=DAY1 - timedelta(hours=2)),
    )
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[a, b])
    upvote(engine, a.id, 3)
    upvote(engine, b.id, 1)
    add_active(engine, "r@example.org", send_hour=7)
    assert _send(engine, s, DAY1) == {"sent": 1, "empty": 0, "failed": 0}
    first = smtp.handler.messages[-1].part("plain")
    assert first.index("Paper A") < first.index("Paper B")

    # next day: A and B still have votes, C is new; only C goes out
    c = make_paper(title="Paper C", published=DAY1 + timedelta(hours=20))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[c])
    upvote(engine, c.id, 1)
    upvote(engine, a.id, 6)
    assert _send(engine, s, DAY1 + timedelta(days=1)) == {"sent": 1, "empty": 0, "failed": 0}
    second = smtp.handler.messages[-1].part("plain")
    assert "Paper C" in second and "Paper A" not in second and "Paper B" not in second

    # the day after: nothing new at all, so no mail and no ledger row for that day
    assert _send(engine, s, DAY1 + timedelta(days=2)) == {"sent": 0, "empty": 1, "failed": 0}
    assert len(smtp.handler.messages) == 2
    with engine.connect() as conn:
        assert [r["period"] for r in ledger_rows(conn=conn)] == ["2026-11-23", "2026-11-24"]


def test_sections_in_order_and_each_paper_once(engine: Engine, settings: Settings) -> None:
    hot = make_paper(title="Sparse attention for long documents", published=DAY1 - timedelta(hours=2))
    topical = make_paper(title="Sparse attention kernels on GPUs", published=DAY1 - timedelta(hours=5))
    old = make_paper(title="Sparse attention, a survey from long ago", published=DAY1 - timedelta(days=90))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[hot, topical, old])
    upvote(engine, hot.id, 2)
    sid = add_active(engine, "t@example.org", topics=["sparse attention", "title:(no such words here)"])
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, subscriber_id=sid)
        assert sub is not None
        digest = build_digest(conn=conn, searcher=indexed_searcher(engine, settings), subscriber=sub, now=DAY1)
    assert [(s.kind, s.title, [i.paper.id for i in s.items]) for s in digest.sections] == [
        ("trending", "Trending", [hot.id]),  # hot matches the topic too, but is listed once
        ("topic", "sparse attention", [topical.id]),  # the 90-day-old match is not new
    ]


def test_topics_without_a_search_service_are_skipped_not_fatal(engine: Engine) -> None:
    hot = make_paper(title="Trending Without Search", published=DAY1 - timedelta(hours=1))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[hot])
    upvote(engine, hot.id, 1)
    sid = add_active(engine, "n@example.org", topics=["anything"])
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, subscriber_id=sid)
        assert sub is not None
        digest = build_digest(conn=conn, searcher=None, subscriber=sub, now=DAY1)
    assert [s.kind for s in digest.sections] == ["trending"]


def test_hostile_titles_stay_in_the_body_and_hostile_addresses_never_reach_headers(
    engine: Engine, settings: Settings, smtp: SmtpServer
) -> None:  # noqa: F811
    s = _mail(settings, smtp)
    evil = make_paper(
        title="Nice\r\nBcc: everyone@example.org\r\n<img src=x onerror=alert(1)>" + "x" * 3000,
        published=DAY1 - timedelta(hours=1),
    )
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[evil])
    upvote(engine, evil.id, 1)
    add_active(engine, "h@example.org", send_hour=0)
    assert _send(engine, s, DAY1)["sent"] == 1
    [mail] = smtp.handler.messages
    assert mail.rcpt == ["h@example.org"] and mail.message["Bcc"] is None
    html = mail.part("html")
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "* Nice Bcc: everyone@example.org <img" in mail.part("plain")  # one line of text, not a header
    assert max(len(line) for line in mail.part("plain").splitlines()) < 600  # huge titles are cut
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, email="h@example.org")
        assert sub is not None
        digest = build_digest(conn=conn, searcher=None, subscriber=sub, now=DAY1 + timedelta(days=1))
    assert digest.is_empty
    rendered = RenderedMail(subject="ok", text="t", html="<p>h</p>")
    for to in ("a@example.org\r\nBcc: b@example.org", "a@example.org\nX: y", "x" * 300 + "@example.org"):
        with pytest.raises(AddressError, match="email"):
            build_message(settings=s, to=to, mail=rendered, message_id="<m@x>")
    with pytest.raises(AddressError, match="subject"):
        build_message(
            settings=s, to="a@example.org", mail=RenderedMail("a\r\nBcc: b@example.org", "t", "h"), message_id="<m@x>"
        )


def test_rendered_digest_is_multipart_dark_mode_friendly_and_script_free(engine: Engine, settings: Settings) -> None:
    hot = make_paper(title="Rendering Check", published=DAY1 - timedelta(hours=1))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[hot])
    upvote(engine, hot.id, 1)
    sid = add_active(engine, "d@example.org")
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, subscriber_id=sid)
        assert sub is not None
        mail = render_digest(digest=build_digest(conn=conn, searcher=None, subscriber=sub, now=DAY1), settings=settings)
    assert "Rendering Check" in mail.text and "Rendering Check" in mail.html
    assert "<script" not in mail.html.lower() and "javascript:" not in mail.html.lower()
    assert 'name="color-scheme" content="light dark"' in mail.html
    assert "prefers-color-scheme: dark" in mail.html
    assert 'style="' in mail.html  # inline CSS: clients that strip <style> still get the layout
    assert mail.unsubscribe_url and mail.unsubscribe_url in mail.text and mail.unsubscribe_url in mail.html
