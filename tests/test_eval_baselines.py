"""The evaluation commands hold the product to the naive baseline (issue 23): `paperfeed eval --json`,
`paperfeed eval-similar --json` and `paperfeed eval-foryou --json` report the naive reciprocal-rank fusion of
a plain stemmed BM25 and the embedding beside each signal, and the shipped ranking before and after its
relevance cut; `bench/similar_sets.py` builds similar-paper sets from retrieval judgements; an unrelated
paper still gets no similar papers once real vectors take part.

Small synthetic folders written here (no ../shared); the model tests use the static model made from
MiniLM's token table (tests/test_search_service.py's session fixture)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.evaluation.related import load_links
from paperfeed.evaluation.retrieval import PlainBM25
from paperfeed.rank.similar import Subject, rank_similar
from paperfeed.search.dense import DenseIndex
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from tests.test_search_service import static_model  # noqa: F401 - the session fixture

ROOT = Path(__file__).resolve().parents[1]

DOCS = [
    ("d1", "Merge sorting on magnetic tapes", "Merge sort of records held on tapes, with polyphase runs."),
    ("d2", "Polyphase merge sorting", "Polyphase merging of sorted runs on several tapes."),
    ("d3", "Replacement selection for tape sorting", "Replacement selection makes long runs for merge sort."),
    ("d4", "External sorting of large files", "Sorting files larger than memory by merging runs from tape."),
    ("d5", "Hash tables for symbol lookup", "Hashing symbols of a compiler's symbol table for fast lookup."),
    ("d6", "Open addressing in hash tables", "Open addressing resolves hash collisions without chains."),
    ("d7", "Baking sourdough bread", "A starter of flour and water leavens the dough overnight."),
]


def _beir(folder: Path) -> Path:
    """A tiny retrieval set: q1 has four relevant papers (d1-d4), q2 two of them, q3 one; d6 is judged 0."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": i, "title": t, "text": x}) + "\n" for i, t, x in DOCS)
    )
    queries = [("q1", "sorting records on tape"), ("q2", "polyphase merge"), ("q3", "symbol table hashing")]
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries))
    rows = ["q1\td1\t1", "q1\td2\t1", "q1\td3\t2", "q1\td4\t1", "q2\td1\t1", "q2\td2\t1", "q3\td5\t1", "q3\td6\t0"]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return folder


def _similar_set(tmp_path: Path) -> Path:
    out = tmp_path / "sets"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "similar_sets.py"), str(out), "--sets", "tiny:test"]
        + ["--eval-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return out / "tiny-coqrels"


def _cli(settings: Settings, *args: str, **env: str) -> dict[str, dict[str, float]]:
    full_env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_EMBEDDER": "none", **env}
    got = CliRunner().invoke(cli_app, list(args), env=full_env)
    assert got.exit_code == 0, got.output
    return json.loads(got.stdout)


def test_similar_sets_link_papers_relevant_to_the_same_query(tmp_path: Path, settings: Settings) -> None:
    _beir(tmp_path / "tiny")
    folder = _similar_set(tmp_path)
    lines = (folder / "qrels" / "links.tsv").read_text().splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    links = {(a, b): int(s) for a, b, s in (line.split("\t") for line in lines[1:])}
    assert links[("d1", "d2")] == links[("d2", "d1")] == 2  # relevant together to q1 and q2
    assert links[("d1", "d3")] == links[("d3", "d4")] == 1
    assert not any("d5" in pair or "d6" in pair or "d7" in pair for pair in links)  # alone, judged 0, unjudged
    assert len(links) == 12  # the 6 pairs of d1-d4, both ways
    assert (folder / "corpus.jsonl").read_text().count("\n") == len(DOCS)  # the whole corpus to rank over
    data = load_links(folder)
    assert data.relevance("d1") == {"d2": 2, "d3": 1, "d4": 1}
    result = _cli(settings, "eval-similar", str(folder), "--model", "none", "--json")
    assert list(result) == ["lexical", "bm25", "fused", "fused_cut"]  # no dense, so no naive RRF
    assert all(r["queries"] == 4 for r in result.values())
    assert result["bm25"]["recall@100"] == 1.0  # every other sorting paper shares words with each
    again = _similar_set(tmp_path)
    assert (again / "qrels" / "links.tsv").read_text() == "\n".join(lines) + "\n"  # reproducible


def test_plain_bm25_ranks_by_stemmed_words_and_leaves_out_a_paper() -> None:
    plain = PlainBM25([(i, f"{t} {x}") for i, t, x in DOCS])
    ids, scores = plain.search("hashing a symbol table", 5)
    assert ids[0] == "d5" and "d6" in ids  # "hashing" matches "hash" by its stem
    assert "d7" not in ids and scores == sorted(scores, reverse=True)
    ids, _ = plain.search("merge sort tapes", 10, leave_out="d1")
    assert "d1" not in ids and set(ids) >= {"d2", "d3"}


@pytest.mark.model
@pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
def test_eval_similar_and_foryou_report_the_naive_baseline_and_the_cut(
    tmp_path: Path,
    settings: Settings,
    static_model: Path,  # noqa: F811
) -> None:
    with (_beir(tmp_path / "tiny") / "qrels" / "test.tsv").open("a") as fh:
        fh.write("q4\td1\t1\nq4\td5\t1\nq4\td6\t1\n")  # d1 gets 5 links: a library of 3, 2 hidden
    folder = _similar_set(tmp_path)
    env = {"PAPERFEED_STATIC_MODEL_PATH": str(static_model)}
    result = _cli(settings, "eval-similar", str(folder), "--model", "static", "--json", **env)
    assert list(result) == ["lexical", "bm25", "dense", "naive_rrf", "fused", "fused_cut"]
    for got in result.values():
        assert set(got) == {"ndcg@20", "recall@100", "queries"} and got["queries"] == 4
        assert 0 < got["ndcg@20"] <= 1 and 0 < got["recall@100"] <= 1
    assert result["fused_cut"]["ndcg@20"] <= result["fused"]["ndcg@20"]  # the cut only removes papers
    foryou = _cli(settings, "eval-foryou", str(folder), "--model", "static", "--json", **env)
    assert list(foryou) == ["nearest", "centroid", "profile", "fused", "naive_rrf"]
    assert all(got["libraries"] == 1 for got in foryou.values())
    assert 0 < foryou["naive_rrf"]["recall@20"] <= 1


@pytest.mark.model
@pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
def test_eval_json_reports_the_naive_rrf_and_each_mode_before_the_cut(
    tmp_path: Path,
    settings: Settings,
    static_model: Path,  # noqa: F811
) -> None:
    folder = _beir(tmp_path / "tiny")
    env = {"PAPERFEED_STATIC_MODEL_PATH": str(static_model)}
    result = _cli(settings, "eval", str(folder), "--model", "static", "--json", **env)
    assert list(result) == ["bm25", "dense", "hybrid", "dense_uncut", "hybrid_uncut", "naive_rrf"]
    for got in result.values():
        assert set(got) == {"ndcg@10", "recall@100", "mrr@10"} and all(0 <= v <= 1 for v in got.values())
    assert result["naive_rrf"]["recall@100"] == 1.0  # both lists together reach every relevant paper
    assert result["dense_uncut"]["recall@100"] >= result["dense"]["recall@100"]
    only = _cli(settings, "eval", str(folder), "--model", "static", "--mode", "dense", "--json", **env)
    assert list(only) == ["dense", "dense_uncut", "naive_rrf"]


def test_an_unrelated_paper_gets_no_similar_papers_with_vectors(tmp_path: Path) -> None:
    """Real lexical and vector indexes: the sorting papers are close to each other in words and vectors; the
    sourdough paper shares no word with them and its vector is near-orthogonal, so its list is empty after
    the cut, while a sorting paper's list holds the other sorting papers and nothing else."""
    rng = np.random.default_rng(3)
    topic = rng.normal(size=32)
    vecs = {i: topic + rng.normal(scale=0.4, size=32) for i, *_ in DOCS[:4]}
    vecs.update({i: rng.normal(size=32) for i, *_ in DOCS[4:6]})
    bread = rng.normal(size=32)
    vecs["d7"] = bread - (bread @ topic) / (topic @ topic) * topic  # orthogonal to the sorting topic
    ids = [i for i, *_ in DOCS]
    mat = np.asarray([vecs[i] for i in ids], dtype=np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)

    class Emb:
        name, dim, fingerprint = "test", 32, "test-32"

    dense = DenseIndex.open(tmp_path, "test")
    dense.prepare(Emb())  # type: ignore[arg-type]
    dense.add(ids, mat, ids)
    dense.commit()
    lexical = LexicalIndex.open(tmp_path / "lexical")
    lexical.add(LexicalDoc(i, t, x) for i, t, x in DOCS)
    lexical.commit()
    papers = {i: Subject(i, t, x) for i, t, x in DOCS}
    bread_list = rank_similar(papers["d7"], lexical=lexical, dense=dense, model="minilm")
    assert bread_list.ids == []
    uncut = rank_similar(papers["d7"], lexical=lexical, dense=dense, model="minilm", cut=False)
    assert len(uncut.ids) == len(DOCS) - 1  # ranked, every paper has some cosine: the cut is what empties it
    sorting = rank_similar(papers["d1"], lexical=lexical, dense=dense, model="minilm")
    assert set(sorting.ids) == {"d2", "d3", "d4"}
