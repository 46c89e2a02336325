"""Meaning-based search is never silently off (issue 12, item 6).

While vectors are missing or stale every answer says so, with progress ("meaning-based search: 20 of 25
papers ready"): the page notice, ``warning`` in ``/api/v1/search``, a line on stderr from ``paperfeed search``;
``paperfeed status --json`` reports the same figures. Until MiniLM has embedded most papers, the interim
static model answers (ready at once), and MiniLM replaces it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli
from paperfeed.config import Settings
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.factory import make_searcher
from paperfeed.search.model_loader import quick_static_model_path
from paperfeed.search.status import index_status
from paperfeed.web.app import create_app
from tests.factories import make_paper
from tests.searchers import interim_static_searcher
from tests.test_search_service import CORPUS, _store, static_model  # noqa: F401 - the session fixture

needs_model = pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
STATUS_KEYS = {"papers", "lexical_docs", "vectors", "model", "pending", "state"}


@pytest.fixture
def static_settings(settings: Settings, engine: Engine, static_model: Path) -> Settings:  # noqa: F811
    _store(engine, [make_paper(**row) for row in CORPUS])
    return settings.model_copy(update={"embedder": "static", "static_model_path": str(static_model)})


@needs_model
def test_dense_search_says_how_many_papers_are_ready(static_settings: Settings, engine: Engine) -> None:
    n = len(CORPUS)
    s = make_searcher(engine=engine, settings=static_settings)
    s.refresh(dense=False)  # words indexed, no vectors yet
    before = s.search("airplane aerodynamics", mode="dense")
    assert before.warning is not None
    assert f"meaning-based search: 0 of {n} papers ready" in before.warning
    assert "keyword (BM25) results" in before.warning  # dense never quietly answers with keywords
    assert s.status()["state"] == "building"
    s.refresh()
    ready = s.search("airplane aerodynamics", mode="dense")
    assert ready.warning is None and ready.hits[0].paper.id == "2104.00004" and ready.hits[0].reason == "semantic"
    _store(engine, [make_paper(title=f"Wind tunnel study {i}") for i in range(5)])
    s.refresh(dense=False)
    partial = s.search("airplane aerodynamics", mode="dense")
    assert f"meaning-based search: {n:,} of {n + 5:,} papers ready" in (partial.warning or "")
    assert partial.hits and all(h.reason == "semantic" for h in partial.hits)
    assert s.status() == {
        "papers": n + 5,
        "lexical_docs": n + 5,
        "vectors": n,
        "model": "static",
        "pending": 5,
        "state": "building",
    }
    assert s.search("airplane aerodynamics", mode="bm25").warning is None  # keywords: nothing missing


def test_no_model_is_said_in_every_interface(settings: Settings, engine: Engine) -> None:
    _store(engine, [make_paper(**row) for row in CORPUS])
    with TestClient(create_app(settings)) as client:
        api = client.get("/api/v1/search", params={"q": "graph neural networks", "mode": "dense"}).json()
        assert "Meaning-based search is off on this instance" in api["warning"] and api["data"]
        assert all(h["reason"] == "lexical" for h in api["data"])
        page = client.get("/search", params={"q": "graph neural networks", "mode": "dense"}).text
        assert "Meaning-based search is off on this instance" in page
        assert client.get("/api/v1/search", params={"q": "graph", "mode": "bm25"}).json()["warning"] is None
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_DATABASE_URL": settings.database_url}
    env |= {"PAPERFEED_EMBEDDER": "none", "PAPERFEED_SEED_DEMO": "false"}
    result = CliRunner().invoke(cli, ["search", "graph neural networks", "--mode", "dense"], env=env)
    assert result.exit_code == 0 and "Meaning-based search is off" in result.stderr
    assert "Meaning-based search is off" not in result.stdout


@needs_model
def test_status_json_reports_the_figures(static_settings: Settings, engine: Engine) -> None:
    env = {
        "PAPERFEED_DATA_DIR": str(static_settings.data_dir),
        "PAPERFEED_DATABASE_URL": static_settings.database_url,
        "PAPERFEED_EMBEDDER": "static",
        "PAPERFEED_STATIC_MODEL_PATH": str(static_settings.static_model_path),
        "PAPERFEED_SEED_DEMO": "false",
    }
    runner = CliRunner()
    first = json.loads(runner.invoke(cli, ["status", "--json"], env=env).stdout)
    assert set(first) >= STATUS_KEYS
    assert first["papers"] == len(CORPUS) and first["vectors"] == 0 and first["state"] == "building"
    assert first["pending"] == len(CORPUS)
    assert runner.invoke(cli, ["index"], env=env).exit_code == 0
    done = json.loads(runner.invoke(cli, ["status", "--json"], env=env).stdout)
    assert {k: done[k] for k in STATUS_KEYS} == {
        "papers": len(CORPUS),
        "lexical_docs": len(CORPUS),
        "vectors": len(CORPUS),
        "model": "static",
        "pending": 0,
        "state": "ready",
    }
    plain = runner.invoke(cli, ["status"], env=env).stdout
    assert f"papers:         {len(CORPUS)}" in plain and "state:          ready" in plain


@needs_model
@pytest.mark.model
def test_interim_static_vectors_answer_until_minilm_has_embedded(settings: Settings, engine: Engine) -> None:
    """The configured model is MiniLM: the static model (made in a second from MiniLM's token table, no
    manual step) answers first without a warning, and MiniLM takes over once it has embedded every paper."""
    s = interim_static_searcher(engine, settings)
    minilm = settings.model_copy(update={"embedder": "minilm"})
    assert (quick_static_model_path(minilm) / "config.json").is_file()
    interim = s.search("airplane aerodynamics", mode="dense")
    assert interim.warning is None and interim.hits[0].paper.id == "2104.00004"
    state = s.status()
    assert state["model"] == "static" and state["state"] == "ready" and state["pending"] == len(CORPUS)
    s.refresh()
    final = s.status()
    assert final["model"] == "minilm" and final["vectors"] == len(CORPUS) and final["pending"] == 0
    assert index_status(minilm, engine)["model"] == "minilm"
    assert s.search("airplane aerodynamics", mode="dense").hits[0].paper.id == "2104.00004"


@needs_model
def test_postgres_search_says_how_many_papers_are_ready(pg_url: str, tmp_path: Path, static_model: Path) -> None:  # noqa: F811
    """The PostgreSQL searcher (tsvector + pgvector) reports progress the same way."""
    from paperfeed.store.db import open_store

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        data_dir=tmp_path,
        database_url=pg_url,
        seed_demo=False,
        embedder="static",
        static_model_path=str(static_model),
        search_backend="postgres",
    )
    engine = open_store(settings)
    try:
        _store(engine, [make_paper(**row) for row in CORPUS])
        s = make_searcher(engine=engine, settings=settings)
        s.refresh(dense=False)
        before = s.search("airplane aerodynamics", mode="dense")
        assert f"meaning-based search: 0 of {len(CORPUS)} papers ready" in (before.warning or "")
        s.refresh()
        after = s.search("airplane aerodynamics", mode="dense")
        assert after.warning is None and after.hits[0].paper.id == "2104.00004"
        assert s.status()["state"] == "ready" and s.status()["vectors"] == len(CORPUS)
    finally:
        engine.dispose()


@needs_model
def test_vectors_still_being_made_are_said_in_every_interface(
    static_settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Words published, no vectors yet: search, similar papers, "for you" and feeds all say so, with the same
    figures as /status (issue 20: every answer that lacks something says so, in every interface)."""
    from paperfeed.rank.foryou import recommend
    from paperfeed.search.reader import GenerationSearcher
    from paperfeed.store.library import library_add
    from paperfeed.store.users import create_user

    make_searcher(engine=engine, settings=static_settings).refresh(dense=False)
    monkeypatch.setattr(GenerationSearcher, "catch_up", lambda self, *a, **k: None)  # the writer is still embedding
    said = f"meaning-based search: 0 of {len(CORPUS)} papers ready"
    with TestClient(create_app(static_settings)) as client:
        search = client.get("/api/v1/search", params={"q": "graph neural networks"}).json()
        assert said in search["warning"] and search["data"]
        similar = client.get("/api/v1/papers/2104.00004/similar").json()
        assert said in (similar["warning"] or "")
        feed = client.get("/feeds/search.atom", params={"q": "graph neural networks"}).text
        assert said in feed
        status = client.get("/status").text
        assert "<dt>Vectors</dt><dd>0" in status and "<dt>Search</dt><dd>building</dd>" in status
        with engine.begin() as conn:
            user = create_user(conn=conn, email="ada@example.org", username="ada", password_hash="x")
            library_add(conn=conn, user_id=user.id, paper_id="2104.00004")
        with engine.connect() as conn:
            recs = recommend(conn=conn, user_id=user.id, searcher=client.app.state.searcher)  # type: ignore[attr-defined]
        assert recs.warning is not None and said in recs.warning
