"""Limits that hold under parallel requests (issue 21, items 1-3): every "count, then write" is one
serialised step, so the limit is exact however many requests arrive at once, and races answer 409, not 500.

Each test starts a real uvicorn server in a thread (``tests/servers.py``) and sends real parallel requests
from a thread pool; run on SQLite by default and on PostgreSQL with ``PAPERFEED_TEST_BACKEND=postgresql``.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from paperfeed.community.comments import COMMENT_LIMITS, REPORT_LIMITS
from paperfeed.config import Settings
from paperfeed.digest.subscribe import PER_ADDRESS as SUBSCRIBE_MAILS_PER_ADDRESS
from paperfeed.digest.subscribe import PER_CLIENT as SUBSCRIBES_PER_CLIENT
from paperfeed.store import comments as comment_store
from paperfeed.store import rate_limits
from paperfeed.store import subscriptions as requests_store
from paperfeed.store.library import collections
from paperfeed.store.schema import papers
from paperfeed.store.users import get_user_by_username, users
from paperfeed.web.app import create_app
from paperfeed.web.login_throttle import PER_ACCOUNT
from paperfeed.web.verify_email import RESENDS_PER_DAY
from tests.community_helpers import PASSWORD, member
from tests.factories import add_papers, cli_env, make_paper
from tests.servers import free_port, running
from tests.smtp_server import SmtpServer, sending_through, smtp  # noqa: F401

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@contextmanager
def served(settings: Settings) -> Iterator[tuple[str, Engine]]:
    """A real server for ``settings``; yields its URL and its store."""
    port = free_port()
    app = create_app(settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"}))
    with running(app, port) as url:
        yield url, app.state.engine


def at_once(n: int, call: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """``call(i)`` for i in 0..n-1 from ``n`` threads released together; the answers in order."""
    gate = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        gate.wait(timeout=60)
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


class Browser:
    """One browser: a cookie jar and the CSRF token of its forms; :meth:`clone` gives a thread its own copy."""

    def __init__(self, url: str, cookies: httpx.Cookies | None = None, token: str | None = None) -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=120, cookies=cookies)
        self.token = token or self.refresh("/login")

    def refresh(self, path: str) -> str:
        found = CSRF.search(self.http.get(path).text)
        assert found, f"{path} has no form"
        self.token = found.group(1)
        return self.token

    def sign_in(self, name: str) -> None:
        r = self.post("/login", email=name, password=PASSWORD)
        assert r.status_code == 303, r.text
        self.refresh("/account")

    def post(self, path: str, **form: str) -> httpx.Response:
        return self.http.post(path, data={**form, "csrf_token": self.token})

    def clone(self) -> Browser:
        return Browser(self.url, httpx.Cookies(dict(self.http.cookies.items())), self.token)


def statuses(answers: list[httpx.Response]) -> dict[int, int]:
    out: dict[int, int] = {}
    for r in answers:
        out[r.status_code] = out.get(r.status_code, 0) + 1
    return out


def test_parallel_password_guesses_are_reserved_before_argon2(settings: Settings) -> None:
    """Item 1: 40 parallel sign-ins for one account, the right password at guess 35: at most ``PER_ACCOUNT``
    attempts hold a reservation at once, so at most that many wrong passwords are ever checked (the right
    one, if it got a slot, gives its slot back); the rest answer 429 with Retry-After."""
    with served(settings) as (url, engine):
        member(engine, "ada")
        browser = Browser(url)
        clones = [browser.clone() for _ in range(40)]
        guesses = [PASSWORD if i == 35 else f"wrong guess {i}" for i in range(40)]
        answers = at_once(40, lambda i: clones[i].post("/login", email="ada", password=guesses[i]))
        counts = statuses(answers)
        assert set(counts) <= {400, 429, 303}, counts
        wrong_checked, right_in = counts.get(400, 0), counts.get(303, 0)
        assert PER_ACCOUNT - right_in <= wrong_checked <= PER_ACCOUNT, counts  # before: all 39 were checked
        assert counts[429] == 40 - wrong_checked - right_in
        limited = next(r for r in answers if r.status_code == 429)
        assert "Too many failed sign-in attempts" in limited.text
        assert int(limited.headers["Retry-After"]) > 60
        if wrong_checked == PER_ACCOUNT:  # the account is locked: the right password waits too
            again = browser.post("/login", email="ada", password=PASSWORD)
            assert again.status_code == 429 and "pf_session" not in again.cookies


def test_parallel_comments_stop_at_five_a_minute_and_fifty_a_day(settings: Settings) -> None:
    """Item 2: 20 parallel comments accept exactly 5 (then 429 + Retry-After); with 47 comments earlier
    today, 10 parallel comments accept exactly 3 (the day's 50)."""
    per_minute, per_day = (limit.count for limit in COMMENT_LIMITS)
    with served(settings) as (url, engine):
        paper = make_paper()
        add_papers(engine, [paper])
        ada, ada_auth = member(engine, "ada")
        api = httpx.Client(base_url=url, timeout=120)
        path = f"/api/v1/papers/{paper.id}/comments"
        answers = at_once(20, lambda i: api.post(path, json={"body": f"comment {i}"}, headers=ada_auth))
        assert statuses(answers) == {201: per_minute, 429: 20 - per_minute}
        refused = next(r for r in answers if r.status_code == 429)
        assert int(refused.headers["Retry-After"]) >= 1 and "5 comments a minute" in refused.json()["error"]
        assert len(api.get(path).json()["data"]) == per_minute

        bob, bob_auth = member(engine, "bob")
        earlier = datetime.now(UTC) - timedelta(hours=2)
        with engine.begin() as conn:
            for i in range(per_day - 3):
                comment_store.add_comment(
                    conn=conn, paper_id=paper.id, user_id=bob.id, body=f"old {i}", parent_id=None, when=earlier
                )
        answers = at_once(10, lambda i: api.post(path, json={"body": f"late {i}"}, headers=bob_auth))
        assert statuses(answers) == {201: 3, 429: 7}
        assert "50 comments a day" in next(r for r in answers if r.status_code == 429).json()["error"]
        with engine.connect() as conn:
            since = datetime.now(UTC) - timedelta(days=1)
            assert len(comment_store.comments_since(conn=conn, user_id=bob.id, since=since)) == per_day


def test_parallel_reports_stop_at_the_daily_limit(settings: Settings) -> None:
    """Item 2: 42 parallel reports (one per comment) by one member: exactly 20 reach the moderators."""
    (per_day,) = (limit.count for limit in REPORT_LIMITS)
    with served(settings) as (url, engine):
        paper = make_paper()
        add_papers(engine, [paper])
        author, _ = member(engine, "author")
        _, carol_auth = member(engine, "carol")
        _, mod_auth = member(engine, "mod", role="moderator")
        with engine.begin() as conn:
            ids = [
                comment_store.add_comment(conn=conn, paper_id=paper.id, user_id=author.id, body=f"c{i}", parent_id=None)
                for i in range(42)
            ]
        api = httpx.Client(base_url=url, timeout=120)
        answers = at_once(42, lambda i: api.post(f"/api/v1/comments/{ids[i]}/report", json={}, headers=carol_auth))
        assert statuses(answers) == {200: per_day, 429: 42 - per_day}
        queue = api.get("/api/v1/moderation/reports", headers=mod_auth).json()
        assert len(queue["data"]) == per_day


def test_parallel_subscribes_mail_one_address_three_times(settings: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    """Item 2: 30 parallel subscribe requests for one address from one client: 20 accepted (the client's
    hour), 10 answered 429, and exactly 3 confirmation mails go to the address."""
    with served(sending_through(settings, smtp.port)) as (url, engine):
        api = httpx.Client(base_url=url, timeout=120)
        answers = at_once(30, lambda i: api.post("/api/v1/subscriptions", json={"email": "eve@example.org"}))
        assert statuses(answers) == {202: SUBSCRIBES_PER_CLIENT, 429: 30 - SUBSCRIBES_PER_CLIENT}
        with engine.connect() as conn:
            since = datetime.now(UTC) - timedelta(days=1)
            mailed = requests_store.count_requests(conn=conn, since=since, email="eve@example.org", mailed_only=True)
        assert mailed == SUBSCRIBE_MAILS_PER_ADDRESS
        deadline = time.monotonic() + 60  # the mails go out in background tasks: wait for the three
        while len(smtp.handler.to("eve@example.org")) < SUBSCRIBE_MAILS_PER_ADDRESS and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(smtp.handler.to("eve@example.org")) == SUBSCRIBE_MAILS_PER_ADDRESS


def test_parallel_verification_resends_send_five_mails(settings: Settings, smtp: SmtpServer) -> None:  # noqa: F811
    """Item 2: 30 parallel "send the link again" for one account: exactly 5 mails, the rest are told the
    limit (the account page says so)."""
    with served(sending_through(settings, smtp.port)) as (url, engine):
        member(engine, "dan", verified=False)
        browser = Browser(url)
        browser.sign_in("dan")
        clones = [browser.clone() for _ in range(30)]
        answers = at_once(
            30, lambda i: clones[i].http.post("/account/verify/resend", data={"csrf_token": clones[i].token})
        )
        where = [r.headers.get("location") for r in answers]
        assert where.count("/account?verification=sent") == RESENDS_PER_DAY, where
        assert where.count("/account?verification=limit") == 30 - RESENDS_PER_DAY, where
        assert len(smtp.handler.to("dan@example.org")) == RESENDS_PER_DAY  # sent within each request


def test_parallel_sign_ups_from_one_address_are_limited(settings: Settings) -> None:
    """Item 5: 25 parallel sign-ups from one address create exactly the hour's allowance of accounts; the
    rest answer 429 saying why, with Retry-After."""
    per_hour = settings.signups_per_address_hour  # 3 by default
    with served(settings) as (url, engine):
        browser = Browser(url)
        browser.refresh("/signup")
        clones = [browser.clone() for _ in range(25)]

        def sign_up(i: int) -> httpx.Response:
            form = {"email": f"sybil{i}@example.org", "username": f"sybil{i}", "password": "correct horse battery"}
            return clones[i].post("/signup", **form)

        answers = at_once(25, sign_up)
        assert statuses(answers) == {303: per_hour, 429: 25 - per_hour}
        refused = next(r for r in answers if r.status_code == 429)
        assert "Too many accounts were created from your network address" in refused.text
        assert int(refused.headers["Retry-After"]) > 60
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(users)).scalar_one() == per_hour


def test_parallel_same_name_collections_answer_409_not_500(settings: Settings) -> None:
    """Item 3: 50 parallel creates of one collection name: one collection, 49 answers 409 naming it."""
    with served(settings) as (url, engine):
        member(engine, "fay")
        browser = Browser(url)
        browser.sign_in("fay")
        clones = [browser.clone() for _ in range(50)]
        answers = at_once(50, lambda i: clones[i].post("/library/collections", name="Reading group"))
        assert statuses(answers) == {303: 1, 409: 49}
        conflict = html.unescape(next(r for r in answers if r.status_code == 409).text)
        assert "already have a collection named 'Reading group'" in conflict
        with engine.connect() as conn:
            fay = get_user_by_username(conn=conn, username="fay")
            assert fay is not None
            names = conn.execute(select(collections.c.name).where(collections.c.user_id == fay.id)).scalars().all()
        assert sorted(names) == ["Reading group", "Saved"]


def test_two_ingests_at_once_both_finish_with_exact_counts(settings: Settings, tmp_path: Path) -> None:
    """Item 3: two ``paperfeed ingest`` runs of the same 4,500 papers at once on one store: both exit 0,
    no IntegrityError, every paper stored once, and between them they added each paper exactly once."""
    rows = [
        {"id": f"2402.{i:05d}", "title": f"Concurrent ingest paper {i}", "abstract": f"Abstract {i}.",
         "authors": [{"name": "Ada Lovelace"}], "published": "2024-02-01T00:00:00+00:00", "source": "test"}
        for i in range(4500)
    ]  # fmt: skip
    source = tmp_path / "papers.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    env = cli_env(tmp_path / "data", settings.resolved_database_url)
    cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", "ingest", str(source), "--json"]
    subprocess.run([*cmd[:3], "db", "upgrade"], env=env, check=True, capture_output=True, timeout=300)
    runs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert "IntegrityError" not in err
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(r["added"] for r in reports) == 4500, reports
    for r in reports:
        assert r["added"] + r["updated"] + r["unchanged"] == 4500
    from paperfeed.store.db import open_store

    engine = open_store(settings)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(papers)).scalar_one() == 4500
    finally:
        engine.dispose()


def test_the_ledger_counts_a_window_and_forgets_what_can_no_longer_count(engine: Engine) -> None:
    """``take`` refuses the event over the limit with the wait until the oldest leaves the window, and each
    ``take`` deletes events older than any window."""
    limit = rate_limits.Limit(2, 60, "a minute")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rate_limits.take(conn, key="old", limits=[limit], now=now - timedelta(days=3))
        rate_limits.take(conn, key="k", limits=[limit], now=now - timedelta(seconds=50))
        rate_limits.take(conn, key="k", limits=[limit], now=now - timedelta(seconds=10))
    with engine.begin() as conn, pytest.raises(rate_limits.RateLimited) as refused:
        rate_limits.take(conn, key="k", limits=[limit], now=now)
    assert refused.value.retry_after == 11  # the first of the two leaves the window in 10 s (and a second)
    with engine.connect() as conn:
        keys = conn.execute(select(rate_limits.rate_events.c.key)).scalars().all()
    assert sorted(keys) == ["k", "k"]
