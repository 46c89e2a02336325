"""RSS 2.0 and Atom feeds (daily, trending, search) parse cleanly with feedparser; hostile text stays text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from paperfeed.config import Settings
from paperfeed.store.votes import add_vote
from tests.factories import create_verified_user, make_paper, site_client

HOSTILE_TITLE = 'Attack <script>alert("t")</script> & "quotes" \'single\' <img src=x onerror=alert(1)>'
HOSTILE_ABSTRACT = 'We <img src=x onerror=alert(1)> study <script>steal()</script> "quoted" graph claims\x0b here.'
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
FEEDS = [
    "/feeds/daily.rss",
    "/feeds/daily.atom",
    "/feeds/trending.rss",
    "/feeds/trending.atom",
    "/feeds/search.rss?q=graph",
    "/feeds/search.atom?q=graph",
]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    papers = [
        make_paper(id="2401.00001", title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, published=NOW + timedelta(hours=2)),
        make_paper(
            id="2401.00002",
            title="Graph Transformers at Scale",
            abstract="Graph transformers scale to millions of nodes.",
            published=NOW + timedelta(hours=1),
        ),
        make_paper(id="2401.00003", title="Last Month's Paper", published=NOW - timedelta(days=40)),
    ]
    with site_client(settings, papers) as c:
        with c.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
            user = create_verified_user(conn=conn, email="ada@example.org", username="ada", password_hash="x")
            add_vote(conn=conn, user_id=user.id, paper_id="2401.00002")
            add_vote(conn=conn, user_id=user.id, paper_id="2401.00001")
        yield c


def parse(client: TestClient, url: str) -> feedparser.FeedParserDict:
    r = client.get(url)
    assert r.status_code == 200, (url, r.text)
    kind = "atom" if ".atom" in url else "rss"
    assert r.headers["content-type"] == f"application/{kind}+xml; charset=utf-8"
    etree.fromstring(r.content)  # well-formed XML
    feed = feedparser.parse(r.content)
    assert not feed.bozo, (url, feed.get("bozo_exception"))
    assert feed.version == ("atom10" if kind == "atom" else "rss20")
    return feed


def assert_refused(client: TestClient, url: str, field: str) -> None:
    """A bad parameter is a 4xx naming it (an HTML error page, or JSON when the client asks for JSON)."""
    r = client.get(url)
    assert r.status_code == 400 and field in r.text, (url, r.status_code)
    r = client.get(url, headers={"Accept": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, url


@pytest.mark.parametrize("url", FEEDS)
def test_every_feed_parses_and_links_to_paper_pages(client: TestClient, url: str) -> None:
    feed = parse(client, url)
    assert feed.feed.title.startswith("Paperfeed: ")
    assert feed.entries, url
    ids = {e.link for e in feed.entries}
    assert "http://testserver/papers/2401.00002" in ids
    for e in feed.entries:
        assert e.get("published_parsed") and e.get("author"), url
        assert e.id == e.link
    assert any(link.get("rel") == "self" for link in feed.feed.links)


def test_daily_feed_periods_and_order(client: TestClient) -> None:
    today = parse(client, "/feeds/daily.atom")
    assert [e.link.rsplit("/", 1)[-1] for e in today.entries] == ["2401.00001", "2401.00002"]
    old_day = (NOW - timedelta(days=40)).date()
    old = parse(client, f"/feeds/daily.rss?date={old_day}")
    assert [e.title for e in old.entries] == ["Last Month's Paper"]
    month = parse(client, f"/feeds/daily.atom?month={old_day:%Y-%m}")
    assert "Last Month's Paper" in [e.title for e in month.entries]
    week = parse(client, "/feeds/daily.rss?week={}-W{:02d}&sort=trending".format(*NOW.isocalendar()[:2]))
    assert len(week.entries) >= 2
    assert_refused(client, "/feeds/daily.atom?week=2024-W99", "week")
    assert_refused(client, "/feeds/daily.atom?date=2024-02-30", "date")
    assert_refused(client, "/feeds/daily.json", "fmt")


def test_trending_feed_order_and_window(client: TestClient) -> None:
    feed = parse(client, "/feeds/trending.rss?window=all")
    assert [e.link.rsplit("/", 1)[-1] for e in feed.entries][0] == "2401.00001"  # newer with equal votes
    assert_refused(client, "/feeds/trending.atom?window=year", "window")


def test_search_feed_options_and_errors(client: TestClient) -> None:
    feed = parse(client, "/feeds/search.atom?q=transformers&mode=bm25&sort=date")
    assert [e.title for e in feed.entries] == ["Graph Transformers at Scale"]
    assert "transformers" in feed.feed.title
    empty = parse(client, "/feeds/search.rss?q=zebra+quokka")
    assert empty.entries == []
    assert_refused(client, "/feeds/search.atom", "q")
    assert_refused(client, "/feeds/search.atom?q=year:abc", "q")
    assert_refused(client, "/feeds/search.atom?q=graph&mode=nope", "mode")
    assert_refused(client, "/feeds/search.rss?q=graph&from=2024-05-01&to=2024-01-01", "from")


@pytest.mark.parametrize("url", FEEDS)
def test_hostile_titles_are_text_in_feeds(client: TestClient, url: str) -> None:
    raw = client.get(url).text
    assert "<script>" not in raw and "<img " not in raw
    feed = parse(client, url)
    entry = next(e for e in feed.entries if e.link.endswith("/2401.00001"))
    assert entry.title == HOSTILE_TITLE  # the exact characters, for the reader to show as text
    if ".atom" in url:
        assert entry.title_detail.type == "text/plain" and entry.summary_detail.type == "text/plain"
        assert entry.summary == HOSTILE_ABSTRACT.replace("\x0b", "")
    else:  # RSS descriptions are HTML: the markup arrives escaped, so readers display it as characters
        assert "&lt;script&gt;steal()&lt;/script&gt;" in entry.summary
        assert "<script" not in entry.summary and "<img" not in entry.summary


def test_pages_advertise_their_feeds(client: TestClient) -> None:
    home = client.get("/").text
    assert 'type="application/atom+xml"' in home and 'href="/feeds/daily.atom"' in home
    search = client.get("/search?q=graph").text
    assert 'href="/feeds/search.atom?q=graph"' in search


def test_hostile_text_is_text_in_markdown_and_api(client: TestClient) -> None:
    from markdown_it import MarkdownIt

    md = client.get("/papers/2401.00001.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    html = MarkdownIt("commonmark").render(md.text)  # raw HTML enabled: nothing may get through
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&quot;t&quot;)&lt;/script&gt;" in html or '&lt;script&gt;alert("t")' in html
    assert "onerror=alert(1)" in html  # the characters are still there, as text
    for url, title_key in (("/api/papers/2401.00001", "title"), ("/api/v1/papers/2401.00001", "title")):
        r = client.get(url)
        assert r.headers["content-type"] == "application/json" and r.json()[title_key] == HOSTILE_TITLE
    assert client.get("/papers/9999.99999.md").status_code == 404
