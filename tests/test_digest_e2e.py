"""End to end: subscribe -> confirmation mail -> confirm -> upvotes -> `paperfeed digest send` -> the digest
arrives (right papers, both parts, working unsubscribe headers and links) -> one-click unsubscribe -> the
next send skips the address."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import Settings
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.factories import make_paper
from tests.smtp_server import SmtpServer, mail_settings, smtp, upvote  # noqa: F401

CONFIRM = re.compile(r"http://testserver(/subscriptions/confirm/\S+)")


@pytest.fixture
def env(settings: Settings, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Settings:  # noqa: F811
    """The CLI reads PAPERFEED_* from the environment: point it at this test's store and SMTP server."""
    return mail_settings(settings, smtp, monkeypatch)


def _send(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, ["digest", "send", "--json", *args])
    assert result.stdout.strip(), result.output
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def test_subscribe_confirm_upvote_send_unsubscribe(env: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    client = TestClient(create_app(env))
    now = datetime.now(UTC)
    quiet, hot, hostile = (
        make_paper(published=now - timedelta(hours=3)),
        make_paper(title="Sparse Attention Everywhere", published=now - timedelta(hours=2)),
        make_paper(title='<script>alert("x")</script> & <b>bold</b> claims', published=now - timedelta(hours=1)),
    )
    client.get("/subscribe")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[quiet, hot, hostile])

    # subscribe through the API; only the confirmation mail goes out
    r = client.post(
        "/api/v1/subscriptions",
        json={"email": "reader@example.org", "trending": True, "topics": [], "frequency": "daily", "send_hour": 0},
    )
    assert r.status_code == 202
    client.post("/api/v1/subscriptions", json={"email": "pending@example.org", "send_hour": 0})
    assert [m.rcpt for m in smtp.handler.messages] == [["reader@example.org"], ["pending@example.org"]]
    link = CONFIRM.search(smtp.handler.messages[0].part("plain"))
    assert link and client.post(link.group(1)).status_code == 200  # the page's confirm button
    smtp.handler.messages.clear()

    # upvotes move papers into trending: hot (3 votes) above hostile (1 vote); quiet has none
    upvote(engine, hot.id, 3)
    upvote(engine, hostile.id, 1)

    code, report = _send("--now", now.isoformat())
    assert code == 0 and report["sent"] == 1 and report["failed"] == 0
    [mail] = smtp.handler.messages
    assert mail.rcpt == ["reader@example.org"]  # the pending address gets nothing
    text, html = mail.part("plain"), mail.part("html")
    assert text.index("Sparse Attention Everywhere") < text.index("alert")
    assert quiet.title not in text
    assert f"http://testserver/papers/{hot.id}" in text
    assert f'href="http://testserver/papers/{hot.id}"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>bold" not in html
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert client.get(f"/papers/{hot.id}").status_code == 200

    # RFC 8058 headers, and the links they carry work
    unsub = re.fullmatch(
        r"<(http://testserver/unsubscribe/[^>]+)>, <mailto:digest@paperfeed\.test\?subject="
        r"unsubscribe>",
        str(mail.message["List-Unsubscribe"]),
    )
    assert unsub and mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"\r\nList-Unsubscribe: <{unsub.group(1)}>, <mailto:".encode() in mail.raw  # plain, not encoded
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in mail.raw
    assert unsub.group(1) in text and unsub.group(1) in html
    manage = re.search(r"http://testserver(/subscriptions/manage/\S+)", text)
    assert manage and client.get(manage.group(1)).status_code == 200

    # running again in the same period sends nothing more
    code, report = _send("--now", (now + timedelta(minutes=5)).isoformat())
    assert (code, report["sent"], report["already_sent"]) == (0, 0, 1)
    assert len(smtp.handler.messages) == 1

    # one-click unsubscribe, as a mail client does it: POST, no cookies, no CSRF token
    one_click = TestClient(client.app).post(
        unsub.group(1).removeprefix("http://testserver"),
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200

    upvote(engine, quiet.id, 5)  # something new would be trending tomorrow
    code, report = _send("--now", (now + timedelta(days=1)).isoformat())
    assert code == 0 and report["sent"] == 0 and report["due"] == 0
    assert len(smtp.handler.messages) == 1


def test_nothing_due_exits_zero_and_says_so(env: Settings) -> None:
    result = CliRunner().invoke(cli, ["digest", "send"])
    assert result.exit_code == 0 and "nothing due" in result.stdout


def test_dry_run_writes_eml_and_records_nothing(env: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    from tests.smtp_server import add_active

    client = TestClient(create_app(env))
    client.get("/subscribe")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    paper = make_paper(published=now - timedelta(hours=1))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    upvote(engine, paper.id, 2)
    add_active(engine, "dry@example.org", send_hour=0)
    code, report = _send("--dry-run", "--now", now.isoformat(), "--user", "dry@example.org")
    assert code == 0 and report["would_send"] == 1 and report["sent"] == 0
    [path] = report["written"]  # type: ignore[misc]
    assert paper.title in open(path, encoding="utf-8").read()  # noqa: SIM115
    assert smtp.handler.messages == []
    code, report = _send("--now", now.isoformat())
    assert report["sent"] == 1 and len(smtp.handler.messages) == 1


def test_preview_command_prints_the_digest(env: Settings) -> None:
    from tests.smtp_server import add_active

    client = TestClient(create_app(env))
    client.get("/subscribe")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    paper = make_paper(title="Preview Me Please", published=datetime.now(UTC) - timedelta(hours=1))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    upvote(engine, paper.id, 1)
    add_active(engine, "p@example.org")
    result = CliRunner().invoke(cli, ["digest", "preview", "p@example.org"])
    assert result.exit_code == 0 and "Preview Me Please" in result.stdout and "Unsubscribe:" in result.stdout
    missing = CliRunner().invoke(cli, ["digest", "preview", "nobody@example.org"])
    assert missing.exit_code == 1


def test_worker_sends_at_each_subscribers_hour_in_their_time_zone(env: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    from paperfeed.store.db import open_store
    from tests.smtp_server import add_active

    engine = open_store(env)
    at = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 09:30 in Tokyo, 19:30 (Nov 22) in New York
    paper = make_paper(title="Worker Trending Paper", published=at - timedelta(hours=2))
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    upvote(engine, paper.id, 2)
    add_active(engine, "tokyo@example.org", timezone="Asia/Tokyo", send_hour=9)
    add_active(engine, "ny@example.org", timezone="America/New_York", send_hour=21)

    run = CliRunner().invoke(cli, ["worker", "--now", at.isoformat(), "--max-cycles", "2", "--interval", "0.1"])
    assert run.exit_code == 0, run.output
    assert "stopped after 2 cycles" in run.output
    assert [m.rcpt for m in smtp.handler.messages] == [["tokyo@example.org"]]  # once, though 2 cycles ran

    run = CliRunner().invoke(cli, ["worker", "--now", (at + timedelta(hours=2)).isoformat(), "--once"])
    assert run.exit_code == 0, run.output  # 21:30 in New York: its hour has come; Tokyo is done for today
    assert [m.rcpt for m in smtp.handler.messages] == [["tokyo@example.org"], ["ny@example.org"]]
    assert "Worker Trending Paper" in smtp.handler.messages[1].part("plain")
    engine.dispose()
