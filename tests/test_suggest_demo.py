"""Suggestions on the shipped demo corpus (issue 22, item 8): a typo in the word being typed is corrected as
search corrects it, near-duplicate completions merge into one, and the words the corpus uses most come first.
Through ``GET /api/v1/suggest``; on SQLite, and on PostgreSQL with ``PAPERFEED_TEST_BACKEND=postgresql``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.search import spelling
from paperfeed.search.analyze import stem
from paperfeed.web.app import create_app
from tests.pg import PG_BACKEND


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    demo = settings.model_copy(update={"seed_demo": True, "search_backend": "postgres" if PG_BACKEND else "auto"})
    app = create_app(demo)
    with TestClient(app) as c:
        spelling.wait_for_vocabulary(None)  # suggestions never wait for the spelling vocabulary: have it ready
        try:
            spelling.speller_for(app.state.engine).vocabulary()
        finally:
            spelling.wait_for_vocabulary(spelling.FIRST_BUILD_WAIT)
        yield c


def _get(client: TestClient, q: str) -> list[dict[str, str]]:
    res = client.get("/api/v1/suggest", params={"q": q})
    assert res.status_code == 200, res.text
    return list(res.json()["data"])


def test_a_typo_in_the_word_being_typed_is_corrected_like_search_corrects_it(client: TestClient) -> None:
    got = _get(client, "matryoska")
    assert got[0] == {"type": "query", "text": "matryoshka", "url": "/search?q=matryoshka"}
    papers = [s["text"] for s in got if s["type"] == "paper"]
    assert papers and all("Matryoshka" in t for t in papers)
    search = client.get("/api/v1/search", params={"q": "matryoska"}).json()
    assert search["suggestion"] == "matryoshka"  # the same correction search makes


def test_near_duplicate_completions_merge(client: TestClient) -> None:
    queries = [s["text"] for s in _get(client, "matryoshka emb") if s["type"] == "query"]
    assert queries and queries[0].startswith("matryoshka embedding")
    assert len({stem(q.split()[-1]) for q in queries}) == len(queries), queries  # one form per word


def test_the_words_the_corpus_uses_most_come_first(client: TestClient) -> None:
    papers = [s["text"] for s in _get(client, "matr") if s["type"] == "paper"]
    assert papers[:3] and all("Matryoshka" in t for t in papers[:3]), papers  # 3 papers say "Matryoshka"
    assert "Flat matrix models for quantum permutation groups" in papers[3:], papers  # 1 says "matrix"
