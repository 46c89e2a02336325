"""Filters hold in every mode: ``mode=dense`` and ``hybrid`` with a category, author or date filter rank by
meaning among the papers that pass it (searched within them, not filtered out of the corpus's top k), on
the embedded backend and on PostgreSQL search, through the searcher and the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import Author
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.factory import make_searcher
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.factories import make_paper
from tests.pg import PG_BACKEND
from tests.test_search_service import static_model  # noqa: F401 - the session fixture

needs_model = pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
QUERY = "spiking network model of working memory in the prefrontal cortex"
BACKENDS = ["embedded", "postgres"] if PG_BACKEND else ["embedded"]


def _group(prefix: str, count: int, category: str, year: int, title: str, abstract: str, author: str) -> list:
    """``count`` papers ``<prefix>.00000``, ``<prefix>.00001``...; ``{n}`` in the texts is the paper's number."""
    return [
        make_paper(
            id=f"{prefix}.{n:05d}",
            title=title.format(n=n),
            abstract=abstract.format(n=n),
            authors=[Author(author.format(n=n))],
            categories=[category],
            primary_category=category,
            published=datetime(year, 1 + n % 12, 1 + n % 28, tzinfo=UTC),
        )
        for n in range(count)
    ]


def _corpus() -> list:
    """3,000 near-duplicate cs.LG papers that say the query almost word for word, and 40 q-bio.NC papers
    on the same topic in other words (further from the query than every cs.LG one)."""
    near = "A spiking network model of working memory in the prefrontal cortex, variant {n}"
    near_abstract = "We build spiking network model {n} of working memory in the prefrontal cortex."
    other = "Persistent activity of cortical neurons holds items in short-term memory ({n})"
    other_abstract = "Recordings and simulations of prefrontal neurons {n} show how spikes sustain memory."
    learners = _group("2301", 3000, "cs.LG", 2023, near, near_abstract, author="Learner Number{n}")
    return learners + _group("2302", 40, "q-bio.NC", 2024, other, other_abstract, author="Santiago Cajal")


NEURO = {f"2302.{n:05d}" for n in range(40)}


@pytest.fixture(params=BACKENDS)
def model_settings(request: pytest.FixtureRequest, settings: Settings, engine: Engine, static_model: Path) -> Settings:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=_corpus())
    backend = "postgres" if request.param == "postgres" else "auto"
    return settings.model_copy(
        update={"embedder": "static", "static_model_path": str(static_model), "search_backend": backend}
    )


@pytest.fixture
def client(model_settings: Settings) -> Iterator[TestClient]:
    app = create_app(model_settings)
    with TestClient(app) as c:
        report = app.state.searcher.refresh()
        assert report["vectors"] == 3040, report
        yield c


@needs_model
def test_dense_search_with_a_category_filter_finds_the_papers_in_that_category(client: TestClient) -> None:
    for params in (
        {"q": QUERY, "mode": "dense", "cat": "q-bio.NC", "limit": 50},
        {"q": f"{QUERY} cat:q-bio.NC", "mode": "dense", "limit": 50},
        {"q": QUERY, "mode": "hybrid", "cat": "q-bio.NC", "limit": 50},
        {"q": f'{QUERY} author:"Santiago Cajal"', "mode": "dense", "limit": 50},
        {"q": QUERY, "mode": "dense", "from": "2024-01-01", "limit": 50},
    ):
        body = client.get("/api/v1/search", params=params).json()
        found = {d["paper"]["id"] for d in body["data"]}
        assert len(found & NEURO) >= 36, (params, len(found & NEURO))
        assert found <= NEURO, params  # nothing outside the filter
        assert body["total"] == len(found), params  # every match fits on this page: the total says so


@needs_model
def test_the_search_page_filter_holds_in_dense_mode(client: TestClient) -> None:
    page = client.get("/search", params={"q": QUERY, "mode": "dense", "cat": "q-bio.NC"}).text
    assert "Persistent activity of cortical neurons" in page
    assert "variant 1" not in page  # no cs.LG paper


@needs_model
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_broad_filter_still_ranks_by_meaning(
    backend: str, settings: Settings, engine: Engine, static_model: Path
) -> None:
    """A filter that keeps most papers (cat:cs.LG: 3,000 of 3,040) goes through the graph; the best matches
    are the ones an unfiltered search ranks first among cs.LG papers."""
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=_corpus())
    update = {"embedder": "static", "static_model_path": str(static_model)}
    if backend == "postgres":
        update["search_backend"] = "postgres"
    searcher = make_searcher(engine=engine, settings=settings.model_copy(update=update))
    searcher.refresh()
    plain = [h.paper.id for h in searcher.search(QUERY, mode="dense", limit=100).hits]
    filtered = searcher.search(QUERY, mode="dense", limit=20, categories=["cs.LG"])
    expected = [pid for pid in plain if pid.startswith("2301.")][:20]
    assert [h.paper.id for h in filtered.hits] == expected
