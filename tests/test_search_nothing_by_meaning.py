"""When a mode finds nothing (issue 22, item 7): a meaning-based search that passes nothing says so and offers
what the words find, in the API's ``warning`` and on the page (real MiniLM, real chromium); a no-results page
never suggests a mode that finds nothing too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app, start_store
from tests.factories import make_paper
from tests.servers import BROWSER_MARKS, chromium_tab, free_port, running, site_settings

pytestmark = [pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed"), *BROWSER_MARKS]

TOPICS = [
    ("Zeolite catalysts for methanol conversion", "Zeolite pores shape the selectivity of methanol to olefins."),
    ("Ion exchange in natural zeolite", "Natural zeolite removes ammonium from wastewater by ion exchange."),
    ("Recurrent networks for language modelling", "A small model of the next word in a big corpus."),
    ("Dark matter halos in galaxy simulations", "N-body simulations trace the growth of dark matter halos."),
    ("Monetary policy and inflation expectations", "Central bank announcements move inflation expectations."),
    ("Coral reef bleaching under ocean warming", "Heat stress expels symbiotic algae from reef corals."),
]
# Words that occur in the corpus (small, model, big) but nothing close in meaning: the query.
QUERY = "making a small model imitate a big one"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data: Path = tmp_path_factory.mktemp("nothing-by-meaning")
    app = create_app(site_settings(data, port, seed_demo=False).model_copy(update={"embedder": "minilm"}))
    start_store(app)
    papers = [
        make_paper(id=f"2405.{n:05d}", title=t, abstract=a, published=datetime(2024, 3, 1 + n, tzinfo=UTC))
        for n, (t, a) in enumerate(TOPICS)
    ]
    with app.state.engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=papers)
    with running(app, port) as url:
        report = app.state.searcher.refresh()
        assert report["vectors"] == len(TOPICS), report
        yield url


def test_a_meaning_search_that_passes_nothing_offers_what_the_words_find(base_url: str) -> None:
    import httpx

    body = httpx.get(f"{base_url}/api/v1/search", params={"q": QUERY, "mode": "dense"}, timeout=60).json()
    assert (body["total"], body["data"]) == (0, [])
    assert "No paper is close enough in meaning" in body["warning"]
    assert "1 paper contains its words: search by keywords (mode=bm25)" in body["warning"]
    words = httpx.get(f"{base_url}/api/v1/search", params={"q": QUERY, "mode": "bm25"}, timeout=60).json()
    assert [d["paper"]["id"] for d in words["data"]] == ["2405.00002"]  # what the hint promised

    with chromium_tab(base_url) as tab:
        tab.goto(f"/search?q={QUERY.replace(' ', '+')}&mode=dense")
        said = tab.locator(".empty .no-meaning-match")
        assert "No paper is close enough in meaning" in said.inner_text()
        assert tab.locator(".help").count() == 0  # not the generic help text
        said.get_by_role("link", name="search by keywords").click()
        tab.wait_for_url("**mode=bm25**")
        assert tab.locator(".cards .card h3, .cards article h2, .cards a").first.is_visible()
        assert "Recurrent networks for language modelling" in tab.locator(".cards").inner_text()


def test_the_no_results_page_never_offers_a_mode_that_finds_nothing_too(base_url: str) -> None:
    import httpx

    nonsense = "qwxzv flurble zzyzx"
    for mode in ("bm25", "hybrid"):  # before: every keyword no-result page linked "semantic mode" (0 results)
        got = httpx.get(f"{base_url}/api/v1/search", params={"q": nonsense, "mode": "dense"}, timeout=60).json()
        assert got["total"] == 0 and "no paper contains its words either" in got["warning"]
        with chromium_tab(base_url) as tab:
            tab.goto(f"/search?q={nonsense.replace(' ', '+')}&mode={mode}")
            empty = tab.locator("div.empty")
            assert "No papers match" in empty.inner_text(), tab.content()[-2000:]
            assert empty.locator("a", has_text="semantic mode").count() == 0
