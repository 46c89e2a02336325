"""Server mode under load, on one PostgreSQL: 50 clients upvoting through 4 uvicorn workers get exact counts,
and two ``paperfeed digest send`` processes never send a subscriber the same digest twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.store.api_tokens import create_api_token
from paperfeed.store.db import open_store
from paperfeed.store.papers import upsert_papers
from paperfeed.store.send_ledger import ledger_rows
from paperfeed.store.votes import vote_counts
from tests.factories import create_verified_user, make_paper
from tests.smtp_server import SmtpServer, add_active, free_port, smtp, upvote  # noqa: F401

CLIENTS = 50
PAPERS = [f"2403.{i:05d}" for i in range(1, 6)]


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path) -> Settings:
    """Settings on a fresh PostgreSQL database, whatever PAPERFEED_TEST_BACKEND says."""
    return Settings(
        _env_file=None,
        environment="test",
        data_dir=tmp_path / "data",  # type: ignore[call-arg]
        database_url=pg_url,
        seed_demo=False,
        embedder="none",
        base_url="http://testserver",
    )


@pytest.fixture
def pg_engine(pg_settings: Settings) -> Iterator[Engine]:
    engine = open_store(pg_settings)
    yield engine
    engine.dispose()


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_BASE_URL": "http://testserver",
        **extra,
    }


@pytest.fixture
def tokens(pg_engine: Engine) -> list[str]:
    with pg_engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id=pid) for pid in PAPERS])
        out = []
        for i in range(CLIENTS):
            user = create_verified_user(conn=conn, email=f"m{i}@example.org", username=f"m{i}", password_hash="x")
            out.append(create_api_token(conn=conn, user_id=user.id, name="load"))
    return out


@pytest.fixture
def site(pg_settings: Settings, tokens: list[str], tmp_path: Path) -> Iterator[str]:
    """``paperfeed serve --workers 4`` on the test database (members and papers already in); its URL."""
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from paperfeed.cli import main; main()",
            "serve",
            "--workers",
            "4",
            "--port",
            str(port),
        ],
        env=_env(pg_settings),
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"{base}/api/v1/papers/{PAPERS[0]}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "no site: " + (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _client_run(base: str, token: str) -> list[int]:
    """One member: upvote every paper, take one vote back, vote again, repeat a vote (a no-op)."""
    codes = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
        for pid in PAPERS:
            codes.append(c.post(f"/api/v1/papers/{pid}/vote").status_code)
        codes.append(c.delete(f"/api/v1/papers/{PAPERS[0]}/vote").status_code)
        codes.append(c.post(f"/api/v1/papers/{PAPERS[0]}/vote").status_code)
        codes.append(c.post(f"/api/v1/papers/{PAPERS[1]}/vote").status_code)
    return codes


def test_fifty_clients_four_workers_exact_vote_counts(site: str, tokens: list[str], pg_engine: Engine) -> None:
    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = [c for run in pool.map(lambda t: _client_run(site, t), tokens) for c in run]
    assert Counter(codes) == {200: CLIENTS * (len(PAPERS) + 3)}
    with pg_engine.connect() as conn:
        assert vote_counts(conn=conn, ids=PAPERS) == dict.fromkeys(PAPERS, CLIENTS)
    for pid in PAPERS:  # and the site says so, from whichever worker answers
        assert httpx.get(f"{site}/api/v1/papers/{pid}").json()["upvotes"] == CLIENTS


def test_two_digest_senders_one_postgres_one_digest_each(
    pg_settings: Settings, pg_engine: Engine, smtp: SmtpServer, tmp_path: Path
) -> None:  # noqa: F811
    now = datetime.now(UTC).replace(microsecond=0)
    paper = make_paper(title="Everyone Upvoted This", published=now - timedelta(hours=1))
    with pg_engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[paper])
    upvote(pg_engine, paper.id, 2)
    emails = [f"reader{i}@example.org" for i in range(30)]
    for e in emails:
        add_active(pg_engine, e, send_hour=0)
    smtp.handler.on_rcpt = lambda n, a: 0.02  # keep both senders busy at the same time
    env = _env(pg_settings, **smtp.env())
    cmd = [
        sys.executable,
        "-c",
        "from paperfeed.cli import main; main()",
        "digest",
        "send",
        "--json",
        "--now",
        now.isoformat(),
    ]
    procs = [
        subprocess.Popen(cmd, env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["sent"] for r in reports) == len(emails)
    assert all(r["sent"] > 0 for r in reports), reports  # both really worked, side by side
    assert Counter(m.rcpt[0] for m in smtp.handler.messages) == dict.fromkeys(emails, 1)
    with pg_engine.connect() as conn:
        rows = ledger_rows(conn=conn)
    assert len(rows) == len(emails) and {r["status"] for r in rows} == {"sent"}
