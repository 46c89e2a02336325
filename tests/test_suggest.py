"""Suggestions as you type: GET /api/v1/suggest finds titles and authors by prefix and by word prefix, and
completes or corrects the query; the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.search import spelling, suggest
from paperfeed.store.papers import upsert_papers
from paperfeed.web.app import create_app
from tests.factories import corpus, make_paper
from tests.pg import PG_BACKEND

PAPERS = corpus("suggest")  # tests/fixtures/papers/suggest.toml


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"search_backend": "postgres" if PG_BACKEND else "auto"}))
    with TestClient(app) as c:
        with app.state.engine.begin() as conn:
            upsert_papers(conn=conn, papers_in=PAPERS)
        yield c


def _get(client: TestClient, q: str, **params: object) -> list[dict[str, str]]:
    res = client.get("/api/v1/suggest", params={"q": q, **params})
    assert res.status_code == 200, res.text
    return list(res.json()["data"])


def _texts(items: list[dict[str, str]], kind: str) -> list[str]:
    return [s["text"] for s in items if s["type"] == kind]


def test_titles_by_prefix_and_by_word_prefix(client: TestClient) -> None:
    got = _get(client, "matryo")
    assert _texts(got, "paper") == ["Matryoshka Representation Learning", "2D Matryoshka Sentence Embeddings"]
    assert {"type": "paper", "text": "Matryoshka Representation Learning", "url": "/papers/2205.13147"} in got
    assert _texts(_get(client, "representation lear"), "paper") == ["Matryoshka Representation Learning"]
    assert _texts(_get(client, "ATTENTION is all"), "paper") == ["Attention Is All You Need"]
    assert _texts(_get(client, "bidirect"), "paper")[0].startswith("BERT: Pre-training")
    assert _texts(_get(client, "elements de theo"), "paper") == ["Éléments de théorie des représentations"]


def test_authors_by_name_and_by_surname_prefix(client: TestClient) -> None:
    got = _get(client, "kusu")
    assert {"type": "author", "text": "Aditya Kusupati", "url": "/search?q=author%3A%22Aditya+Kusupati%22"} in got
    assert _texts(_get(client, "aditya k"), "author") == ["Aditya Kusupati"]
    assert _texts(_get(client, "vasw"), "author") == ["Ashish Vaswani"]


def test_query_completions_and_corrections(client: TestClient) -> None:
    spelling.wait_for_vocabulary(None)  # suggestions never wait for the spelling vocabulary: have it ready
    try:
        spelling.speller_for(client.app.state.engine).vocabulary()  # type: ignore[attr-defined]
    finally:
        spelling.wait_for_vocabulary(spelling.FIRST_BUILD_WAIT)
    got = _get(client, "matryoshka repr")
    assert got[0] == {
        "type": "query",
        "text": "matryoshka representation",
        "url": "/search?q=matryoshka+representation",
    }
    corrected = _get(client, "atention is")
    assert _texts(corrected, "query")[:1] == ["attention is"]


def test_limit_and_empty_and_bad_input(client: TestClient) -> None:
    assert len(_get(client, "m", limit=2)) == 2
    assert _get(client, "") == [] and _get(client, "   ") == [] and _get(client, "qwxzv") == []
    assert client.get("/api/v1/suggest", params={"q": "x", "limit": 0}).status_code == 422
    assert client.get("/api/v1/suggest", params={"q": "x" * 201}).status_code == 422
    assert "/api/v1/suggest" in client.get("/openapi.json").json()["paths"]


def test_new_papers_are_suggested_after_a_refresh(client: TestClient) -> None:
    """The index is rebuilt in the background when the store changes (at most every 30 s); ``refresh``
    rebuilds it at once."""
    assert _get(client, "zebrafish") == []
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id="2501.00042", title="Zebrafish heart regeneration")])
    suggest.suggester_for(engine).refresh()
    assert _texts(_get(client, "zebraf"), "paper") == ["Zebrafish heart regeneration"]
