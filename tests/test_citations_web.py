"""Citations on the site, after ``paperfeed citations`` ran against the stand-in OpenAlex: the paper page's
"Cited by N", per-year chart, venue and both lists (also in Chromium), ``/api/v1/papers/{id}/references`` and
``/citations``, and ``citedByCount`` in the Hugging Face-compatible API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ingest.citations import fetch_citations
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app, start_store
from tests.factories import make_paper
from tests.openalex_server import DENSE, MISSING, SINKS, openalex_server, small_world
from tests.servers import CHROMIUM, chromium_tab, free_port, running, site_settings


def _fill(engine: Engine, settings: Settings) -> None:
    """Store the three papers and fetch their citations from the stand-in OpenAlex."""
    day = datetime(2024, 6, 1, tzinfo=UTC)
    titles = {SINKS: "Attention Sinks in Sparse Transformers", DENSE: "Dense Retrieval Baselines", MISSING: "Unknown"}
    papers = [
        make_paper(id=pid, title=t, published=day - timedelta(days=n)) for n, (pid, t) in enumerate(titles.items())
    ]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=papers)
    with openalex_server(small_world()) as server:
        report = fetch_citations(engine=engine, settings=settings.model_copy(update={"openalex_url": server.url}))
    assert report.error is None and len(report.ids("resolved")) == 2


@pytest.fixture
def client(engine: Engine, settings: Settings) -> Iterator[TestClient]:
    _fill(engine, settings)
    with TestClient(create_app(settings)) as c:
        yield c


def test_references_api_lists_papers_of_the_site_and_outside_works(client: TestClient) -> None:
    body = client.get(f"/api/v1/papers/{SINKS}/references").json()
    assert (body["id"], body["relation"], body["openalex_id"]) == (SINKS, "references", "W101")
    assert (body["cited_by_count"], body["venue"], body["total"], body["count"]) == (205, "NeurIPS", 3, 3)
    assert body["warning"] is None
    resnet, adam, dense = body["data"]
    assert resnet["paper"] == {
        "id": None,
        "title": "Deep Residual Learning for Image Recognition",
        "year": 2016,
        "doi": "10.1109/cvpr.2016.90",
        "links": {"doi": "https://doi.org/10.1109/cvpr.2016.90", "openalex": "https://openalex.org/W900"},
    }
    assert (resnet["openalex_id"], resnet["cited_by_count"], resnet["year"]) == ("W900", 200_000, 2016)
    assert adam["paper"]["id"] is None and adam["paper"]["title"].startswith("Adam")
    # a paper of this site comes whole, as /similar gives it
    assert dense["paper"]["id"] == DENSE and dense["paper"]["title"] == "Dense Retrieval Baselines"
    assert dense["paper"]["links"]["page"] == f"http://testserver/papers/{DENSE}" and dense["cited_by_count"] == 2


def test_citations_api_pages_most_cited_first(client: TestClient) -> None:
    page = client.get(f"/api/v1/papers/{SINKS}/citations", params={"limit": 5, "offset": 200}).json()
    assert (page["total"], page["count"], page["offset"], page["limit"]) == (205, 5, 200, 5)
    assert all(h["paper"]["id"] is None and h["year"] == 2024 for h in page["data"])  # 2025's come first
    first = client.get(f"/api/v1/papers/{SINKS}/citations", params={"limit": 1}).json()["data"][0]
    assert first["year"] == 2025 and first["paper"]["title"].startswith("Follow-up study")
    dense = client.get(f"/api/v1/papers/{DENSE}/citations").json()
    assert [h["paper"]["id"] for h in dense["data"]] == [SINKS, None]
    assert dense["data"][1]["paper"]["title"] == "A Survey of Attention Sinks & More"


def test_citation_api_says_when_nothing_was_fetched_and_checks_its_input(client: TestClient) -> None:
    missing = client.get(f"/api/v1/papers/{MISSING}/citations").json()
    assert missing["data"] == [] and missing["openalex_id"] is None and missing["total"] == 0
    assert "not fetched yet" in missing["warning"]
    assert client.get("/api/v1/papers/9999.99999/references").status_code == 404
    bad = client.get(f"/api/v1/papers/{SINKS}/references", params={"limit": 0})
    assert bad.status_code == 422 and "limit" in bad.text


def test_hf_api_gives_cited_by_count(client: TestClient) -> None:
    assert client.get(f"/api/papers/{SINKS}").json()["citedByCount"] == 205
    assert client.get(f"/api/papers/{DENSE}").json()["citedByCount"] == 2
    assert client.get(f"/api/papers/{MISSING}").json()["citedByCount"] is None
    daily = client.get("/api/daily_papers", params={"date": "2024-06-01"}).json()
    assert [(e["paper"]["id"], e["paper"]["citedByCount"]) for e in daily] == [(SINKS, 205)]
    latest = client.get("/api/papers/search").json()
    assert {e["paper"]["id"]: e["paper"]["citedByCount"] for e in latest}[SINKS] == 205


def test_paper_page_shows_cited_by_chart_venue_and_both_lists(client: TestClient) -> None:
    html = client.get(f"/papers/{SINKS}").text
    assert "Cited by 205" in html and '<span class="venue">NeurIPS</span>' in html
    assert 'data-year="2024" data-count="120"' in html and 'data-year="2025" data-count="85"' in html
    assert "References (3)" in html and "Cited by these works (205)" in html
    assert f'<a class="cite-title" href="/papers/{DENSE}">Dense Retrieval Baselines</a>' in html
    assert 'href="https://doi.org/10.1109/cvpr.2016.90"' in html and "(2016, cited by 200,000)" in html
    assert html.count('<li class="cite-item">') == 3 + 20  # the 20 most cited citing works, then "Show all"
    assert "?cited=all#citations-h" in html
    everything = client.get(f"/papers/{SINKS}", params={"cited": "all"}).text
    assert everything.count('<li class="cite-item">') == 3 + 205 and "Show all" not in everything
    assert "Not fetched from OpenAlex yet" in client.get(f"/papers/{MISSING}").text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    settings = site_settings(tmp_path_factory.mktemp("browser-citations"), port, seed_demo=False)
    app = create_app(settings)
    start_store(app)
    _fill(app.state.engine, settings)
    with running(app, port) as url:
        yield url


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")
def test_paper_page_citations_in_chromium(site: str) -> None:
    from playwright.sync_api import expect

    from tests.test_browser import shoot

    with chromium_tab(site) as page:
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.goto(f"/papers/{SINKS}")
        expect(page.locator("#citations-h")).to_have_text("Cited by 205")
        bars: list[dict[str, Any]] = page.eval_on_selector_all(
            ".cite-chart g.bar",
            "gs => gs.map(g => ({year: g.dataset.year, h: g.querySelector('rect').getBoundingClientRect().height}))",
        )
        assert [b["year"] for b in bars] == ["2024", "2025"]
        assert bars[0]["h"] > bars[1]["h"] > 10  # 120 citations in 2024 draw a taller bar than 85 in 2025
        refs = page.locator("ol.references li")
        expect(refs).to_have_count(3)
        expect(refs.nth(0)).to_contain_text("Deep Residual Learning for Image Recognition (2016, cited by 200,000)")
        expect(refs.nth(0).locator("a.doi")).to_have_attribute("href", "https://doi.org/10.1109/cvpr.2016.90")
        expect(page.locator("ol.citing li")).to_have_count(20)
        page.locator("#citations-h").scroll_into_view_if_needed()
        shoot(page, "paper-citations")
        refs.nth(2).locator("a.cite-title").click()  # a paper of this site opens its page
        expect(page).to_have_url(f"{site}/papers/{DENSE}")
        expect(page.locator("ol.citing li").first).to_contain_text("Attention Sinks in Sparse Transformers")
        assert console == []
