"""The demo corpus on a fresh instance: its papers join the daily list the day the instance adds them, the
default trending window includes them, and no demo paper shows a publication date (none is known)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.ingest.demo import DEMO_PATH
from paperfeed.store.db import open_store
from paperfeed.store.papers import upsert_papers
from paperfeed.store.submissions import add_submission
from paperfeed.web.app import create_app
from tests.community_helpers import member
from tests.factories import make_paper


@pytest.fixture
def demo(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"seed_demo": True}))) as client:
        yield client


def _today_title() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return str(today), f"{today:%A, %B} {today.day}, {today.year}"


def test_the_shipped_demo_carries_no_invented_dates() -> None:
    records = [json.loads(line) for line in DEMO_PATH.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 341
    assert all(r["published"] is None and r["first_seen"] is None for r in records)


def test_a_fresh_demo_instance_shows_its_papers_today_labelled_as_added(demo: TestClient) -> None:
    today, title = _today_title()
    home = demo.get("/").text
    assert f"<h1>{title}</h1>" in home
    assert "341 papers" in home
    assert home.count(f'added <time datetime="{today}"') == 30  # every card of the first page
    assert "published <time" not in home
    assert "imported" in home  # the badge of papers no member submitted


def test_an_upvoted_demo_paper_is_in_this_weeks_trending(demo: TestClient) -> None:
    entry = demo.get("/api/daily_papers", params={"limit": 1}).json()[0]
    assert "Nothing trending" in demo.get("/trending").text
    _, auth = member(demo.app.state.engine, "ada")
    assert demo.post(f"/api/v1/papers/{entry['paper']['id']}/vote", headers=auth).json()["upvotes"] == 1
    trending = demo.get("/trending").text  # the default window: this week
    assert entry["title"] in trending


def test_no_demo_paper_shows_a_publication_date(demo: TestClient) -> None:
    today, _ = _today_title()
    entry = demo.get("/api/daily_papers", params={"limit": 1}).json()[0]
    pid = entry["paper"]["id"]
    assert entry["paper"]["publishedAt"] is None  # the paper's own date: unknown
    assert entry["publishedAt"].startswith(today)  # when it entered this instance's daily list, as on the Hub
    assert demo.get(f"/api/papers/{pid}").json()["publishedAt"] is None
    assert demo.get(f"/api/v1/papers/{pid}").json()["published"] is None
    page = demo.get(f"/papers/{pid}").text
    assert "<dt>Published</dt>" not in page and "<dt>On the daily list</dt>" in page
    assert "Published" not in demo.get(f"/papers/{pid}.md").text
    atom = demo.get("/feeds/daily.atom").text
    assert "<entry>" in atom and "<published>" not in atom


def test_home_page_tells_member_submissions_from_papers_that_arrived(settings: Settings) -> None:
    engine = open_store(settings)
    user, _ = member(engine, "grace")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        upsert_papers(
            conn=conn,
            papers_in=[
                make_paper(id="2611.10001", title="Harvested paper on graphs", published=now, source="oai-arxiv"),
                make_paper(id="2611.10002", title="A member's pick on proofs", published=now),
            ],
        )
        add_submission(conn=conn, paper_id="2611.10002", user_id=user.id, when=now)
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        home = client.get("/").text
        assert "Harvested paper on graphs" in home and "A member&#39;s pick on proofs" in home
        assert "from arXiv" in home and "submitted by grace" in home
        members = client.get("/?show=members").text
        assert "A member&#39;s pick on proofs" in members and "Harvested paper on graphs" not in members
        assert 'aria-current="true">Submitted by members</a>' in members
        assert "1 paper" in members
