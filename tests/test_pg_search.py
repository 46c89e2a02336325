"""Search inside PostgreSQL (tsvector + pgvector): the query language means what it means in tantivy."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine, text

from paperfeed.search import hybrid
from paperfeed.search.pg_backend import PgLexical, PgSearchError
from paperfeed.search.pg_dense import PgDense
from paperfeed.search.query import parse_query
from paperfeed.store.db import open_store
from paperfeed.store.papers import upsert_papers
from tests.factories import corpus, store_settings
from tests.searchers import similar


@pytest.fixture
def pg_engine(pg_url: str, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    engine = open_store(store_settings(tmp_path, pg_url))
    papers = corpus("pg_search")  # tests/fixtures/papers/pg_search.toml
    try:
        with engine.begin() as conn:
            upsert_papers(conn=conn, papers_in=papers)
        yield engine
    finally:
        engine.dispose()


def ids(lex: PgLexical, q: str) -> list[str]:
    return lex.search_page(parse_query(q), 10).ids


def test_words_rank_title_matches_first(pg_engine: Engine) -> None:
    lex = PgLexical(pg_engine)
    page = lex.search_page(parse_query("graph neural networks"), 10)
    assert page.ids[:2] == ["2401.00001", "2401.00002"] or set(page.ids[:2]) == {"2401.00001", "2401.00002"}
    assert page.total == 2 and page.scores[0] >= page.scores[1] > 0
    assert ids(lex, "proteins") == ["2401.00003"]  # english stemming


def test_filters_mean_the_same_as_in_the_embedded_index(pg_engine: Engine) -> None:
    lex = PgLexical(pg_engine)
    assert ids(lex, 'graph "message passing" -survey') == ["2401.00001"]
    assert ids(lex, "graph author:lecun") == ["2401.00001"]
    assert ids(lex, 'author:"ada lovelace"') == ["2401.00002"]
    assert ids(lex, "graph cat:stat") == ["2401.00002"]
    assert ids(lex, "cat:cs.lg") == ["2401.00001"]
    assert sorted(ids(lex, "year:2021-2023")) == ["2401.00001", "2401.00002"]
    assert ids(lex, "from:2024-01-01") == ["2401.00003"]
    # a filter-only query is ordered by date, newest first
    assert ids(lex, "cat:cs cat:stat cat:q-bio") == ["2401.00003", "2401.00001", "2401.00002"]
    # engine syntax typed by a user is only text
    assert ids(lex, "graph & ! | <-> ' :*") == ids(lex, "graph")
    assert lex.filter_ids(parse_query("x -survey"), ["2401.00001", "2401.00002"]) == {"2401.00001"}


class _Embedder:
    name, dim, fingerprint = "fake", 3, "fake-v1"

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        table = {"graph": [1.0, 0.0, 0.0], "protein": [0.0, 1.0, 0.0]}
        out = [next((v for k, v in table.items() if k in t.lower()), [0.0, 0.0, 1.0]) for t in texts]
        return np.asarray(out, dtype=np.float32)


def test_pgvector_dense_and_hybrid(pg_engine: Engine) -> None:
    dense = PgDense.open(pg_engine, "fake")
    assert dense.update(pg_engine, _Embedder()) == 3
    assert dense.update(pg_engine, _Embedder()) == 0  # unchanged text is not embedded again
    with pg_engine.begin() as conn:  # the nearest-neighbour query is answered by the HNSW index
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(
            r[0]
            for r in conn.execute(
                text("EXPLAIN SELECT paper_id FROM paper_vectors ORDER BY embedding::vector(3) <=> '[1,0,0]' LIMIT 2")
            )
        )
    assert "ix_paper_vectors_hnsw_3" in plan
    found, scores = dense.search(np.array([0.0, 1.0, 0.0], dtype=np.float32), 2)
    assert found[0] == "2401.00003" and scores[0] == pytest.approx(1.0)
    assert dense.similar("2401.00001", 5)[0][0] == "2401.00002"
    with pytest.raises(PgSearchError, match="3"):
        dense.search(np.zeros(4, dtype=np.float32), 1)
    lex = PgLexical(pg_engine)
    q = parse_query("protein -survey")
    ranking = hybrid.rank(
        q,
        mode="hybrid",
        lexical=lex,
        dense=dense,  # type: ignore[arg-type]
        vector=np.array([0.0, 1.0, 0.0], dtype=np.float32),
    )
    assert ranking.ids[0] == "2401.00003" and ranking.reason("2401.00003") == "both"
    assert "2401.00002" not in ranking.ids  # the exclusion holds for semantic candidates too


def test_refuses_sqlite_with_a_message_naming_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sqlite = create_engine(f"sqlite:///{tmp_path / 'pf.db'}")  # whatever backend the suite runs on
    try:
        with pytest.raises(PgSearchError, match="needs a PostgreSQL database, not sqlite"):
            PgLexical(sqlite)
    finally:
        sqlite.dispose()


def test_searcher_on_the_postgres_backend(pg_engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from paperfeed.search.factory import make_searcher

    settings = store_settings(tmp_path, pg_engine.url.render_as_string(hide_password=False), search_backend="postgres")
    searcher = make_searcher(engine=pg_engine, settings=settings)
    assert searcher.refresh()["lexical_docs"] == 3  # nothing to build: PostgreSQL keeps search_tsv
    results = searcher.search("graph -survey", limit=5)
    assert [h.paper.id for h in results.hits] == ["2401.00001"] and results.total == 1
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").rglob("meta.json"))
    assert [h.paper.id for h in similar(searcher, "2401.00001", limit=1)] == ["2401.00002"]


def test_common_words_are_dropped_from_the_candidates_of_a_broad_query() -> None:
    from paperfeed.search.pg_backend import PRUNE_MATCHES, _Stats, candidate_lexemes

    n = 1_000_000.0
    stats = _Stats(n, {"model": 0.30, "learn": 0.20, "graph": 0.004}, rare=1e-5, avg_title=8, avg_abstract=100)
    # "model" and "learn" would put half the corpus in the ranking; the rarer words find the papers meant
    assert candidate_lexemes(["model", "graph", "learn", "zeolit"], stats) == ["zeolit", "graph"]
    assert candidate_lexemes(["graph", "zeolit"], stats) is None  # few matches: nothing dropped
    assert candidate_lexemes(["model"], stats) is None  # one word: nothing to drop
    assert candidate_lexemes(["model", "learn"], stats) == ["learn"]  # at least the rarest is kept
    assert 0.004 * n <= PRUNE_MATCHES


def broad_query_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Planner statistics as ANALYZE would keep them on a large corpus: "graph" common, "protein" rare."""
    from paperfeed.search import pg_backend

    stats = pg_backend._Stats(3, {"graph": 2 / 3, "protein": 1 / 3}, rare=0.1, avg_title=5, avg_abstract=8)
    monkeypatch.setattr(pg_backend._Stats, "read", classmethod(lambda cls, conn: stats))


def test_a_pruned_query_still_counts_every_match(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperfeed.search import pg_backend

    broad_query_stats(monkeypatch)
    monkeypatch.setattr(pg_backend, "PRUNE_MATCHES", 1)
    page = PgLexical(pg_engine).search_page(parse_query("graph protein"), 10)
    assert page.ids == ["2401.00003"]  # only the paper with the rarer word is ranked...
    assert page.total == 3  # ...but the count is of every paper that matches a word


def test_a_broad_query_past_the_exact_count_is_estimated(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from paperfeed.search import pg_backend

    broad_query_stats(monkeypatch)
    monkeypatch.setattr(pg_backend, "PRUNE_MATCHES", 1)
    monkeypatch.setattr(pg_backend, "COUNT_EXACT_MAX", 1)
    page = PgLexical(pg_engine).search_page(parse_query("graph protein"), 10)
    assert page.ids == ["2401.00003"]
    assert page.total >= 2  # past the exact count: the planner's estimate, never below what was counted
