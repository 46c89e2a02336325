"""Relevance, not neighbours: a paper found only by meaning is shown only when it is a plausible match
(paperfeed/search/relevance.py), so nonsense finds nothing in every mode and interface, totals count exactly
what can be paged through, and date sorts order only plausible matches. Real MiniLM on a small corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.relevance import min_similarity
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.factories import make_paper
from tests.pg import PG_BACKEND

needs_model = pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
NONSENSE = "qwxzv flurble zzyzx"
MODES = ("bm25", "dense", "hybrid")
BACKENDS = ["embedded", "postgres"] if PG_BACKEND else ["embedded"]

TOPICS = [
    ("Zeolite catalysts for methanol conversion", "Zeolite pores shape the selectivity of methanol to olefins."),
    ("Hydrothermal synthesis of zeolite membranes", "We grow thin zeolite films for gas separation."),
    ("Ion exchange in natural zeolite", "Natural zeolite removes ammonium from wastewater by ion exchange."),
    ("Porous catalysts for hydrocarbon cracking", "Acidic porous aluminosilicates crack heavy hydrocarbons."),
    ("Attention is all you need for translation", "A transformer built only on attention translates text."),
    ("Sparse attention for long documents", "Sparse attention patterns let transformers read long inputs."),
    ("A survey of attention mechanisms", "This survey reviews attention in neural networks."),
    ("Self-attention in vision transformers", "Images are split into patches processed by self-attention."),
    ("Recurrent networks for language modelling", "Long short-term memory networks predict the next word."),
    ("Graph neural networks for molecules", "Message passing networks predict molecular properties."),
    ("Protein structure prediction with deep learning", "Networks predict folded protein structures."),
    ("Turbulent boundary layers on swept wings", "Wind tunnel experiments on aircraft wing transition."),
    ("Bayesian optimisation of hyperparameters", "Gaussian processes guide the search for good settings."),
    ("Dark matter halos in galaxy simulations", "N-body simulations trace the growth of dark matter halos."),
    ("Monetary policy and inflation expectations", "Central bank announcements move inflation expectations."),
    ("Coral reef bleaching under ocean warming", "Heat stress expels symbiotic algae from reef corals."),
    ("Quantum error correction with surface codes", "Surface codes protect logical qubits from noise."),
    ("Crop yield forecasting from satellite images", "Satellite imagery predicts wheat yields before harvest."),
    ("Contrastive learning of visual representations", "Augmented views of images train encoders."),
    ("Reinforcement learning for robot grasping", "Robots learn to grasp objects by trial and error."),
]


def _papers() -> list:
    return [
        make_paper(
            id=f"2405.{n:05d}",
            title=title,
            abstract=abstract,
            categories=["cs.LG"],
            published=datetime(2024, 1 + n % 12, 1 + n, tzinfo=UTC),
        )
        for n, (title, abstract) in enumerate(TOPICS)
    ]


@pytest.fixture(params=BACKENDS)
def model_settings(request: pytest.FixtureRequest, settings: Settings, engine: Engine) -> Settings:
    """MiniLM over the corpus; with PAPERFEED_TEST_BACKEND=postgresql also PostgreSQL search (pgvector)."""
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=_papers())
    backend = "postgres" if request.param == "postgres" else "auto"
    return settings.model_copy(update={"embedder": "minilm", "search_backend": backend})


@pytest.fixture
def client(model_settings: Settings) -> Iterator[TestClient]:
    app = create_app(model_settings)
    with TestClient(app) as c:
        report = app.state.searcher.refresh()
        assert report["vectors"] == len(TOPICS), report
        yield c


def _search(client: TestClient, **params: object) -> dict:
    got = client.get("/api/v1/search", params=params)
    assert got.status_code == 200, got.text
    return got.json()


@needs_model
def test_nonsense_finds_nothing_in_every_mode_and_interface(client: TestClient, model_settings: Settings) -> None:
    for mode in MODES:
        body = _search(client, q=NONSENSE, mode=mode)
        assert (body["total"], body["data"]) == (0, []), mode
        page = client.get("/search", params={"q": NONSENSE, "mode": mode}).text
        assert f"No papers match “{NONSENSE}”" in page and 'class="cards"' not in page, mode
    assert client.get("/api/papers/search", params={"q": NONSENSE}).json() == []
    env = {
        "PAPERFEED_DATA_DIR": str(model_settings.data_dir),
        "PAPERFEED_DATABASE_URL": model_settings.database_url,
        "PAPERFEED_EMBEDDER": "minilm",
        "PAPERFEED_SEARCH_BACKEND": model_settings.search_backend,
        "PAPERFEED_SEED_DEMO": "false",
        "HF_HUB_OFFLINE": "1",
    }
    for mode in MODES:
        result = CliRunner().invoke(cli_app, ["search", NONSENSE, "--json", "--mode", mode], env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == [], mode


def _every_page(client: TestClient, **params: object) -> tuple[list[str], int]:
    seen: list[str] = []
    totals = set()
    offset = 0
    while True:
        body = _search(client, offset=offset, limit=3, **params)
        totals.add(body["total"])
        if not body["data"]:
            break
        seen += [d["paper"]["id"] for d in body["data"]]
        offset += 3
    assert len(totals) == 1, totals  # every page tells the same total
    return seen, totals.pop()


@needs_model
def test_total_counts_exactly_what_can_be_paged_through(client: TestClient) -> None:
    for q in ("zeolite", "attention transformers", "neural networks learning", "catalysts"):
        for mode in MODES:
            seen, total = _every_page(client, q=q, mode=mode)
            assert len(seen) == total == len(set(seen)), (q, mode, seen, total)


@needs_model
def test_a_word_in_three_abstracts_reports_a_handful_not_the_corpus(client: TestClient) -> None:
    body = _search(client, q="zeolite", mode="hybrid", limit=50)
    ids = [d["paper"]["id"] for d in body["data"]]
    assert ids[:3] and {"2405.00000", "2405.00001", "2405.00002"} == set(ids[:3])  # the keyword matches lead
    assert body["total"] == len(ids) <= 6  # and at most a few papers found by meaning (the porous catalysts)
    assert all(d["reason"] in ("both", "lexical") for d in body["data"][:3])


def _cosines(settings: Settings, texts: list[str], query: str) -> list[float]:
    from paperfeed.search.embed import get_embedder

    emb = get_embedder("minilm", settings)
    vecs = emb.encode([query, *texts])
    return [float(np.dot(vecs[0], v)) for v in vecs[1:]]


@needs_model
def test_date_sort_orders_only_plausible_matches(client: TestClient, model_settings: Settings) -> None:
    by_date = _search(client, q="attention -survey sort:date", limit=50)
    by_relevance = _search(client, q="attention -survey", limit=50)
    hits = by_date["data"]
    assert {d["paper"]["id"] for d in hits} == {d["paper"]["id"] for d in by_relevance["data"]}
    assert by_date["total"] == len(hits) == by_relevance["total"]
    dates = [d["paper"]["published"] for d in hits]
    assert dates == sorted(dates, reverse=True)
    assert not any("survey" in (d["paper"]["title"] + d["paper"]["abstract"]).lower() for d in hits)
    meaning_only = [d for d in hits if "attention" not in (d["paper"]["title"] + d["paper"]["abstract"]).lower()]
    texts = [f"{d['paper']['title']}. {d['paper']['abstract']}" for d in meaning_only]
    for d, cos in zip(meaning_only, _cosines(model_settings, texts, "attention"), strict=True):
        assert d["reason"] == "semantic" and cos >= min_similarity("minilm"), (d["paper"]["title"], cos)
    assert "2405.00012" not in {d["paper"]["id"] for d in hits}  # Bayesian optimisation: not about attention
