"""Keyphrases per paper (paperfeed/keywords.py): sensible phrases, stored at index time, shown and served."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.keywords import MAX_KEYWORDS, MIN_KEYWORDS, extract_keywords, refresh_keywords
from paperfeed.search.analyze import STOP_WORDS, fold, words
from paperfeed.store.keywords import keywords_for
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.factories import make_paper

# Abstracts of known papers (arXiv): what a reader would call their topics must come out.
KNOWN = {
    "attention": (
        "Attention Is All You Need",
        "The dominant sequence transduction models are based on complex recurrent or convolutional neural networks "
        "that include an encoder and a decoder. The best performing models also connect the encoder and decoder "
        "through an attention mechanism. We propose a new simple network architecture, the Transformer, based "
        "solely on attention mechanisms, dispensing with recurrence and convolutions entirely. Experiments on two "
        "machine translation tasks show these models to be superior in quality while being more parallelizable "
        "and requiring significantly less time to train.",
        {"attention", "transformer", "translation", "encoder", "sequence transduction"},
    ),
    "bert": (
        "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        "We introduce a new language representation model called BERT, which stands for Bidirectional Encoder "
        "Representations from Transformers. Unlike recent language representation models, BERT is designed to "
        "pre-train deep bidirectional representations from unlabeled text by jointly conditioning on both left "
        "and right context in all layers.",
        {"bert", "bidirectional", "language representation", "language understanding"},
    ),
    "resnet": (
        "Deep Residual Learning for Image Recognition",
        "Deeper neural networks are more difficult to train. We present a residual learning framework to ease the "
        "training of networks that are substantially deeper than those used previously. We explicitly reformulate "
        "the layers as learning residual functions with reference to the layer inputs, instead of learning "
        "unreferenced functions.",
        {"residual learning", "image recognition", "residual", "deeper neural networks"},
    ),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_keyphrases_of_known_abstracts_are_sensible(name: str) -> None:
    title, abstract, topics = KNOWN[name]
    phrases = extract_keywords(title, abstract)
    assert MIN_KEYWORDS <= len(phrases) <= MAX_KEYWORDS <= 8
    text = fold(f"{title} {abstract}")
    for phrase in phrases:
        assert fold(phrase) in text, phrase  # taken from the text, not invented
        assert not all(w in STOP_WORDS for w in words(phrase)), phrase
    joined = " | ".join(fold(p) for p in phrases)
    assert any(t in joined for t in topics), phrases


def test_an_empty_text_has_no_keyphrases() -> None:
    assert extract_keywords("", "") == []


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app) as c:
        yield c


def test_index_time_keyphrases_are_stored_shown_as_chips_and_served_as_ai_keywords(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    title, abstract, _ = KNOWN["resnet"]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="1512.03385", title=title, abstract=abstract)])
    # The server's background upkeep may compute the same paper at the same moment (it then returns 0 here):
    # drive the work to completion explicitly, whoever does it; afterwards nothing is left for anyone.
    assert refresh_keywords(engine=engine) in (0, 1)
    assert refresh_keywords(engine=engine) == 0
    with engine.connect() as conn:
        stored = keywords_for(conn=conn, ids=["1512.03385"])["1512.03385"]
    assert MIN_KEYWORDS <= len(stored) <= MAX_KEYWORDS
    page = client.get("/papers/1512.03385").text
    chips = re.findall(r'<a class="chip" href="/search\?q=([^"]+)">([^<]+)</a>', page)
    assert [c[1] for c in chips] == stored
    assert client.get("/api/papers/1512.03385").json()["ai_keywords"] == stored


def test_a_paper_changed_while_its_keyphrases_were_computed_gets_them_again(engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    from paperfeed.store.keywords import papers_lacking_keywords, store_keywords
    from paperfeed.store.papers import now_utc

    title, abstract, _ = KNOWN["resnet"]
    first = datetime(2024, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="1512.03385", title="Old title", abstract="Old text.")])
    read_at = now_utc()  # a slow worker reads the old text ...
    with engine.connect() as conn:
        [(_, old_title, old_abstract)] = papers_lacking_keywords(conn=conn, limit=10)
    new = make_paper(id="1512.03385", title=title, abstract=abstract, updated=first + timedelta(days=30))
    with engine.begin() as conn:  # ... the paper changes meanwhile ...
        upsert_papers(conn=conn, papers_in=[new])
    stale = extract_keywords(old_title, old_abstract)
    with engine.begin() as conn:  # ... and the worker stores what it computed from the old text
        store_keywords(conn=conn, found={"1512.03385": stale}, now=read_at)
    assert refresh_keywords(engine=engine) == 1  # still due: computed from the new text
    with engine.connect() as conn:
        fresh = keywords_for(conn=conn, ids=["1512.03385"])["1512.03385"]
    assert fresh != stale and any("residual" in p.lower() for p in fresh)
    with engine.begin() as conn:  # a worker that read even earlier never overwrites the fresh phrases
        store_keywords(conn=conn, found={"1512.03385": stale}, now=read_at - timedelta(seconds=1))
    with engine.connect() as conn:
        assert keywords_for(conn=conn, ids=["1512.03385"])["1512.03385"] == fresh
    assert refresh_keywords(engine=engine) == 0


def test_paperfeed_index_computes_keyphrases_for_papers_lacking_them(settings: Settings, engine: Engine) -> None:
    title, abstract, _ = KNOWN["bert"]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="1810.04805", title=title, abstract=abstract)])
    env = {
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_EMBEDDER": "none",
        "PAPERFEED_SEED_DEMO": "false",
    }
    result = CliRunner().invoke(app, ["index"], env=env)
    assert result.exit_code == 0, result.output
    assert "keyphrases for 1" in result.output
    with engine.connect() as conn:
        assert "Language Understanding" in keywords_for(conn=conn, ids=["1810.04805"])["1810.04805"]


def test_for_you_reasons_name_the_keyphrases_shared_with_the_library_paper(engine: Engine) -> None:
    from datetime import UTC, datetime

    from paperfeed.rank.keyword_reasons import add_keyword_reasons
    from paperfeed.store.keywords import store_keywords

    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="2401.00100"), make_paper(id="2401.00200")])
        store_keywords(
            conn=conn,
            found={
                "2401.00100": ["graph neural networks", "molecular property prediction", "message passing"],
                "2401.00200": ["Message Passing", "graph neural networks", "protein folding"],
            },
            now=datetime.now(UTC),
        )
        reasons = {"2401.00200": "similar abstract to Graphs for molecules"}
        add_keyword_reasons(
            conn=conn, ids=["2401.00200"], reasons=reasons, because={"2401.00200": "2401.00100"}, seeds=["2401.00100"]
        )
    assert reasons["2401.00200"] == (
        "similar abstract to Graphs for molecules; shares keywords Message Passing, graph neural networks"
    )
