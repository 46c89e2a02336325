"""Following arXiv (`paperfeed serve --follow`, PAPERFEED_FOLLOW) against a local stand-in OAI-PMH server.

Real servers, real store: harvested papers reach the home page and search, exactly one of several app
instances on one database harvests (the lease), and a failing upstream shows on /status and in
`paperfeed status` while the pages keep working, until a later try succeeds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.ingest.follow import next_announcement, next_harvest
from paperfeed.store.db import open_store
from paperfeed.store.leases import get_lease, take_lease
from paperfeed.store.papers import get_paper
from paperfeed.web.app import create_app
from tests.arxiv_server import OaiRecord, Reply, Request, arxiv_server, oai_repository
from tests.servers import free_port

TODAY = datetime.now(UTC).date()


def _records() -> list[OaiRecord]:
    day, old = TODAY.isoformat(), (TODAY - timedelta(days=30)).isoformat()
    return [
        OaiRecord("2611.00001", "Sparse mixture routing for tiny transformers", "cs.LG stat.ML", day, day),
        OaiRecord("2611.00002", "Grounded dialogue with retrieval", "stat.ML cs.CL", day, day),
        OaiRecord("2611.00003", "Object detection in fog", "cs.CV", day, day),  # set cs, not followed
        OaiRecord("2611.00004", "Moduli of stable curves", "math.AG", day, day),  # another set
        OaiRecord("2610.00005", "A paper outside the window", "cs.LG", old, old),
    ]


def _wait(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _following(settings: Settings, oai_url: str, **extra: object) -> Settings:
    return settings.model_copy(
        update={"follow": "cs.LG,cs.CL", "arxiv_oai_url": oai_url, "arxiv_max_retries": 0, **extra}
    )


@contextmanager
def _serving(
    settings: Settings,
    tmp_path: Path,
    oai_url: str,
    *args: str,
    env: dict[str, str] | None = None,
    stop_within: float = 20,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``paperfeed serve ARGS`` in its own process on a free port, on the test's database, harvesting from
    ``oai_url``; yields its URL and the process, and always stops it. Its output is in ``tmp_path / "serve.log"``."""
    port = free_port()
    serve_env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path / "serve-data"),
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_SEED_DEMO": "false",
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_ARXIV_OAI_URL": oai_url,
        "PAPERFEED_ARXIV_REQUEST_INTERVAL": "0",
        **(env or {}),
    }
    cmd = [sys.executable, "-c", "from paperfeed.cli import main; main()", "serve", "--port", str(port), *args]
    with (tmp_path / "serve.log").open("w") as log:
        proc = subprocess.Popen(cmd, env=serve_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield f"http://127.0.0.1:{port}", proc
        finally:
            proc.terminate()
            proc.wait(timeout=stop_within)


def test_serve_follow_harvests_on_start_into_home_page_search_and_status(settings: Settings, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with arxiv_server(oai_repository(_records())) as upstream:
        with _serving(settings, tmp_path, upstream.url + "/oai", "--follow", "cs.LG,cs.CL") as (url, proc):

            def harvested() -> bool:
                assert proc.poll() is None, log_path.read_text()
                try:
                    return "Sparse mixture routing" in httpx.get(url + "/", timeout=2).text
                except httpx.HTTPError:
                    return False

            _wait(harvested, 60, "the harvested papers on the home page")
            home = httpx.get(url + "/").text
            assert "Grounded dialogue with retrieval" in home  # a cs.CL cross-list of stat.ML
            assert "Object detection in fog" not in home  # cs.CV: same set, not followed
            assert "from arXiv" in home  # the badge of papers that arrived by themselves
            assert f'published <time datetime="{TODAY}"' in home

            def searchable() -> bool:  # the server's index writer publishes new papers within seconds
                found = httpx.get(url + "/api/v1/search", params={"q": "mixture routing"}).json()
                return [h["paper"]["id"] for h in found["data"]][:1] == ["2611.00001"]

            _wait(searchable, 30, "the harvested papers in search")

            _wait(lambda: "following cs.LG, cs.CL" in httpx.get(url + "/status").text, 20, "/status")
            status = httpx.get(url + "/status").text
            assert "2 new papers" in status and "Following arXiv is failing" not in status
        asked = {(r.params.get("set"), r.params.get("from")) for r in upstream.requests if "set" in r.params}
        assert asked == {("cs", (TODAY - timedelta(days=7)).isoformat())}  # one set for both, the last 7 days
    assert "Following arXiv cs.LG,cs.CL" in log_path.read_text()

    result = CliRunner().invoke(cli_app, ["status", "--json", "--db", settings.database_url])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {"papers", "lexical_docs", "vectors", "model", "pending", "state"} <= set(data)
    assert data["papers"] == 2
    harvest = data["harvest"]
    assert harvest["following"] == ["cs.LG", "cs.CL"] and harvest["state"] == "ok"
    assert harvest["last_added"] == 2 and harvest["last_error"] is None
    assert datetime.fromisoformat(harvest["next_run"]) > datetime.now(UTC)


def test_serve_with_two_workers_harvests_once(settings: Settings, tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    follow_variable = {"PAPERFEED_FOLLOW": "cs.LG,cs.CL"}  # the variable this time, not --follow
    with arxiv_server(oai_repository(_records(), page_size=2)) as upstream:
        serving = _serving(
            settings, tmp_path, upstream.url + "/oai", "--workers", "2", env=follow_variable, stop_within=30
        )
        with serving as (url, proc):

            def both_workers_follow() -> bool:
                assert proc.poll() is None, log_path.read_text()
                return log_path.read_text().count("arXiv follow: following cs.LG, cs.CL") == 2

            _wait(both_workers_follow, 90, "two workers following")
            _wait(lambda: "2 new papers" in httpx.get(url + "/status", timeout=5).text, 30, "the harvest")
            time.sleep(1.5)  # time for a second harvester, were there one
            assert all("Sparse mixture routing" in httpx.get(url + "/").text for _ in range(4))
        assert len(upstream.requests) == 2  # one harvest of set cs: 3 records, 2 per page
    assert log_path.read_text().count("2 new, 0 updated papers") == 1


def test_two_app_instances_on_one_database_harvest_exactly_once(settings: Settings) -> None:
    with arxiv_server(oai_repository(_records(), page_size=2)) as upstream:
        follow = _following(settings, upstream.url + "/oai")
        with TestClient(create_app(follow)) as one, TestClient(create_app(follow)) as two:
            _wait(lambda: "2 new papers" in one.get("/status").text, 30, "the first harvest")
            time.sleep(1.0)  # time for a second harvester, were there one
            assert "Sparse mixture routing" in two.get("/").text
        harvests = [r for r in upstream.requests if r.params.get("set") == "cs"]
        assert len(harvests) == 1  # one ListRecords harvest of set cs (its pages follow by token)
        assert len(upstream.requests) == 2  # 3 cs records, 2 per page
    engine = open_store(settings)
    try:
        with engine.connect() as conn:
            assert get_paper(conn=conn, paper_id="2611.00003") is None
            lease = get_lease(conn=conn, name="arxiv-follow")
        assert lease is not None and lease.expires_at <= datetime.now(UTC)  # handed back at shutdown
    finally:
        engine.dispose()


def test_upstream_down_shows_on_status_pages_keep_working_and_a_retry_succeeds(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = oai_repository(_records())
    broken = {"on": True}

    def flaky(req: Request) -> Reply:
        if broken["on"]:
            return Reply(503, b"down for maintenance", {"Content-Type": "text/plain"})
        return healthy(req)

    caplog.set_level(logging.INFO, logger="paperfeed.follow")
    with arxiv_server(flaky) as upstream:
        follow = _following(settings, upstream.url + "/oai", follow_retry=3.0)
        with TestClient(create_app(follow)) as client:
            _wait(lambda: "Following arXiv is failing" in client.get("/status").text, 20, "the failure on /status")
            page = client.get("/status").text
            assert "HTTP 503" in page
            assert client.get("/").status_code == 200  # the site keeps serving
            assert "No papers for this day yet" in client.get("/").text
            result = CliRunner().invoke(cli_app, ["status", "--db", settings.database_url])
            assert re.search(r"harvest failing \(\d+ failed tr(y|ies) in a row\)", result.output), result.output
            assert "last_error: " in result.output and "HTTP 503" in result.output
            failures = [r for r in caplog.records if r.levelno == logging.WARNING and "arXiv follow" in r.message]
            assert len(failures) >= 1 and "retrying in" in failures[0].getMessage()

            broken["on"] = False
            _wait(lambda: "2 new papers" in client.get("/status").text, 30, "the retry to succeed")
            assert "Following arXiv is failing" not in client.get("/status").text
            assert "Sparse mixture routing" in client.get("/").text
    tries = [r for r in upstream.requests if r.params.get("set") == "cs"]
    assert len(tries) >= 2


def test_the_lease_has_one_holder_until_it_expires(settings: Settings) -> None:
    engine = open_store(settings)
    try:
        now = datetime.now(UTC)
        with engine.begin() as conn:
            assert take_lease(conn=conn, name="job", holder="a", ttl=60, now=now)
            assert not take_lease(conn=conn, name="job", holder="b", ttl=60, now=now + timedelta(seconds=30))
            assert take_lease(conn=conn, name="job", holder="a", ttl=60, now=now + timedelta(seconds=30))  # renew
            assert take_lease(conn=conn, name="job", holder="b", ttl=60, now=now + timedelta(seconds=91))
            assert get_lease(conn=conn, name="job").holder == "b"  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_harvests_are_scheduled_after_arxiv_announcements() -> None:
    # Friday 2026-11-27 21:00 UTC (16:00 EST): no announcement Friday or Saturday, next is Sunday 20:00 EST.
    friday = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
    assert next_announcement(friday) == datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
    # Monday 2026-11-30 12:00 UTC: Monday 20:00 EST, harvested an hour later.
    monday = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert next_harvest(monday) == datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    # Summer time: Thursday 2026-07-02 20:00 EDT is 00:00 UTC.
    assert next_announcement(datetime(2026, 7, 2, 12, tzinfo=UTC)) == datetime(2026, 7, 3, 0, 0, tzinfo=UTC)


def test_serve_refuses_an_unknown_category(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--follow", "cs.LG,bogus", "--db", str(tmp_path / "x.db")])
    assert result.exit_code != 0
    assert "'bogus' is not an arXiv category" in result.output
