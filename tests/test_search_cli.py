"""The search commands: `paperfeed index`, `search`, `similar` and `eval`, their --json shapes and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.models import Author
from paperfeed.search.embed import EMBEDDERS_AVAILABLE
from paperfeed.store.papers import upsert_papers
from tests.factories import cli_env, make_paper
from tests.test_search_service import CORPUS, static_model  # noqa: F401 - the session fixture

HIT_KEYS = {"id", "title", "score", "reason", "authors", "published", "snippet", "url", "categories"}


@pytest.fixture
def env(settings: Settings, engine: Engine) -> dict[str, str]:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(**row) for row in CORPUS])
    return cli_env(settings.data_dir, settings.database_url, base_url="http://paperfeed.test")


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_index_reports_counts_and_is_incremental(env: dict[str, str], engine: Engine) -> None:
    code, out, _ = run(env, "index", "--json")
    report = json.loads(out)
    assert code == 0 and report["indexed"] == len(CORPUS) and report["lexical_docs"] == len(CORPUS)
    assert report["model"] == "none" and report["embedded"] == 0
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(title="Optical lattice clocks")])
    code, out, _ = run(env, "index", "--json")
    assert json.loads(out)["indexed"] == 1
    code, out, _ = run(env, "stats", "--json")
    index = json.loads(out)["index"]
    assert index["papers"] == index["lexical_docs"] == len(CORPUS) + 1 and index["pending"] == 0


def test_index_with_an_unknown_model_fails_clearly(env: dict[str, str]) -> None:
    code, _, err = run(env, "index", "--model", "bert")
    assert code != 0 and "--model must be one of minilm, static, none" in err


def test_search_json_is_an_array_best_first_with_the_documented_fields(env: dict[str, str]) -> None:
    code, out, _ = run(env, "search", "graph neural networks", "--mode", "bm25", "--json")
    hits = json.loads(out)
    assert code == 0 and isinstance(hits, list) and len(hits) >= 3
    assert all(set(h) >= HIT_KEYS for h in hits)
    assert hits[0]["id"] in {"2301.00001", "2306.00006"} and hits[0]["reason"] == "lexical"
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    first = next(h for h in hits if h["id"] == "2301.00001")
    assert first["authors"] == ["Marie Curie", "Ada Lovelace"] and first["published"] == "2023-03-01"
    assert first["snippet"].startswith("We apply message passing graph neural networks")  # plain text, no <mark>
    assert first["url"].startswith("https://arxiv.org/abs/2301.00001")


def test_search_limit_offset_and_sort(env: dict[str, str]) -> None:
    _, out, _ = run(env, "search", "graph", "--json", "--limit", "2")
    first = json.loads(out)
    _, out, _ = run(env, "search", "graph", "--json", "--limit", "2", "--offset", "2")
    second = json.loads(out)
    _, out, _ = run(env, "search", "graph", "--json", "--limit", "4")
    assert [h["id"] for h in first + second] == [h["id"] for h in json.loads(out)]
    _, out, _ = run(env, "search", "graph", "--json", "--sort", "date")
    assert [h["id"] for h in json.loads(out)] == ["2401.00007", "2306.00006", "2301.00001"]


def test_search_text_output_lists_titles_and_pagination(env: dict[str, str]) -> None:
    code, out, _ = run(env, "search", "protein folding", "--limit", "1")
    assert code == 0 and "Protein folding with deep learning" in out and "2203.00003" in out
    assert "1-1 of" in out and "<mark>" not in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", ""], "Type some words"),
        (["search", "?!?!"], "Nothing to search for"),
        (["search", "year:abc"], "year: expects a year"),
        (["search", "graph", "--mode", "semantic"], "--mode must be one of bm25, dense, hybrid"),
        (["search", "graph", "--sort", "best"], "--sort must be one of relevance, date, trending"),
        (["similar", "9999.99999"], "there is no paper '9999.99999'"),
    ],
)
def test_errors_are_one_clear_line(env: dict[str, str], args: list[str], message: str) -> None:
    code, out, err = run(env, *args)
    assert code == 1 and message in err and out == ""
    assert "Traceback" not in err


@pytest.mark.parametrize("q", ["'; DROP TABLE papers; --", '"unbalanced', "x" * 5000, "NOT (a OR b*)"])
def test_hostile_queries_answer_cleanly(env: dict[str, str], q: str) -> None:
    code, out, err = run(env, "search", q, "--json")
    assert "Traceback" not in err
    assert (code == 0 and isinstance(json.loads(out), list)) or (code == 1 and err.startswith("error:"))


def test_similar_json_excludes_the_paper_itself(env: dict[str, str]) -> None:
    code, out, _ = run(env, "similar", "2301.00001", "--json", "--limit", "3")
    hits = json.loads(out)
    # only papers related enough are listed: no padding up to --limit
    assert code == 0 and 1 <= len(hits) <= 3 and all(set(h) >= HIT_KEYS for h in hits)
    assert "2301.00001" not in [h["id"] for h in hits]
    assert hits[0]["id"] in {"2401.00007", "2306.00006"}
    code, out, _ = run(env, "similar", "2301.00001")
    assert code == 0 and "Graph" in out


# ---------------------------------------------------------------- eval on a tiny BEIR folder


def _beir(folder: Path) -> Path:
    corpus = [
        {
            "_id": "d1",
            "title": "Aspirin and heart attacks",
            "text": "Daily aspirin lowers the risk of heart attack in adults with cardiovascular disease.",
        },
        {
            "_id": "d2",
            "title": "Vitamin D and bone density",
            "text": "Vitamin D supplements increase bone mineral density in older women.",
        },
        {"_id": "d3", "title": "Sleep and memory", "text": "Sleep after learning consolidates memory."},
        {"_id": "d4", "title": "Exercise and mood", "text": "Regular exercise reduces symptoms of depression."},
    ]
    queries = [
        {"_id": "q1", "text": "does aspirin prevent heart attack"},
        {"_id": "q2", "text": "vitamin D bone health"},
        {"_id": "q3", "text": "sleep helps memory"},
        {"_id": "q9", "text": "a query without judgements"},
    ]
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus) + "\n")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries) + "\n")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\nq3\td3\t1\n")
    return folder


def test_eval_bm25_prints_one_json_object(env: dict[str, str], tmp_path: Path) -> None:
    folder = _beir(tmp_path / "tiny")
    code, out, _ = run(env, "eval", str(folder), "--mode", "bm25", "--json")
    assert code == 0
    result = json.loads(out)  # exactly one JSON document on stdout
    assert list(result) == ["bm25"]
    assert result["bm25"] == {"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0}


def test_eval_reports_bad_folders_and_splits(env: dict[str, str], tmp_path: Path) -> None:
    code, _, err = run(env, "eval", str(tmp_path / "missing"), "--mode", "bm25")
    assert code == 1 and "not a folder" in err
    folder = _beir(tmp_path / "tiny")
    code, _, err = run(env, "eval", str(folder), "--split", "dev", "--mode", "bm25")
    assert code == 1 and "dev.tsv is missing (splits here: test)" in err
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "x"}\nnot json\n')
    code, _, err = run(env, "eval", str(folder), "--mode", "bm25")
    assert code == 1 and "corpus.jsonl:2" in err
    code, _, err = run(env, "eval", str(folder), "--mode", "sparse")
    assert code == 1 and "--mode must be one of" in err


@pytest.mark.model
@pytest.mark.skipif(not EMBEDDERS_AVAILABLE, reason="the ml extra is not installed")
def test_eval_all_modes_and_semantic_search_with_the_static_model(
    env: dict[str, str], tmp_path: Path, static_model: Path
) -> None:  # noqa: F811
    env = {**env, "PAPERFEED_STATIC_MODEL_PATH": str(static_model)}
    folder = _beir(tmp_path / "tiny")
    code, out, _ = run(env, "eval", str(folder), "--model", "static", "--json")
    result = json.loads(out)
    assert code == 0 and list(result) == ["bm25", "dense", "hybrid", "dense_uncut", "hybrid_uncut", "naive_rrf"]
    for metrics in result.values():
        assert set(metrics) == {"ndcg@10", "recall@100", "mrr@10"}
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert result["hybrid"]["recall@100"] == 1.0
    env = {**env, "PAPERFEED_EMBEDDER": "static"}
    code, out, _ = run(env, "index", "--json")
    assert code == 0 and json.loads(out)["vectors"] == len(CORPUS)
    code, out, _ = run(env, "search", "airplane aerodynamics", "--mode", "dense", "--json", "--limit", "1")
    assert json.loads(out)[0]["id"] == "2104.00004" and json.loads(out)[0]["reason"] == "semantic"
    code, out, _ = run(env, "similar", "2301.00001", "--json", "--limit", "1")
    assert json.loads(out)[0]["reason"] in ("similar abstract", "same authors")  # factory papers share authors


def test_search_seeds_the_demo_corpus_on_an_empty_store(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", "", seed_demo="true")
    code, out, _ = run(env, "search", "graph neural networks", "--json", "--limit", "3")
    assert code == 0 and len(json.loads(out)) == 3


def test_authors_show_in_text_output(env: dict[str, str], engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_papers(
            conn=conn,
            papers_in=[
                make_paper(title="Many author paper on lasers", authors=[Author(f"Author {i}") for i in range(6)])
            ],
        )
    code, out, _ = run(env, "search", "lasers")
    assert code == 0 and "Author 0, Author 1, Author 2, Author 3 et al." in out
