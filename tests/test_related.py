"""Related papers: similar papers from every signal with reasons and no padding, "not interested" on
"For you", diversification, and the citation-set evaluation commands.

Real store, real search service (words only: no model is loaded in tests), real vector files for MMR."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app as cli_app
from paperfeed.config import Settings
from paperfeed.models import Author, Paper
from paperfeed.rank.foryou import recommend
from paperfeed.rank.recommend import rank_library
from paperfeed.rank.similar import Subject
from paperfeed.search.dense import DenseIndex
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from paperfeed.store.api_tokens import create_api_token
from paperfeed.store.library import library_add
from paperfeed.store.related import not_interested_ids
from paperfeed.store.sessions import create_session
from paperfeed.store.users import User, create_user
from paperfeed.web.app import create_app
from paperfeed.web.security import SESSION_COOKIE
from tests.factories import keyed_corpus, make_paper
from tests.searchers import indexed_searcher

NOW = datetime.now(UTC).replace(microsecond=0)


def _paper(title: str, abstract: str, author: str, days_ago: float = 1) -> Paper:
    return make_paper(
        title=title, abstract=abstract, authors=[Author(author)], published=NOW - timedelta(days=days_ago)
    )


@pytest.fixture
def corpus(engine: Engine) -> dict[str, Paper]:
    return keyed_corpus(engine, "related", _paper)  # tests/fixtures/papers/related.toml


def _members(engine: Engine, names: list[str]) -> list[User]:
    with engine.begin() as conn:
        return [create_user(conn=conn, email=f"{n}@example.org", username=n, password_hash="x") for n in names]


def _save(engine: Engine, user: User, *papers: Paper) -> None:
    with engine.begin() as conn:
        for p in papers:
            library_add(conn=conn, user_id=user.id, paper_id=p.id)


def _client(settings: Settings) -> tuple[TestClient, Engine]:
    client = TestClient(create_app(settings))
    client.get("/")
    return client, client.app.state.engine  # type: ignore[attr-defined]


def test_similar_papers_carry_reasons_and_are_not_padded(settings: Settings, corpus: dict[str, Paper]) -> None:
    client, engine = _client(settings)
    ann, bob = _members(engine, ["ann", "bob"])
    for member in (ann, bob):  # two members saved the molecule paper and the ocean paper
        _save(engine, member, corpus["gnn"], corpus["ocean"])
    body = client.get(f"/api/v1/papers/{corpus['gnn'].id}/similar", params={"limit": 10}).json()
    reasons = {h["paper"]["id"]: h["reason"] for h in body["data"]}
    assert reasons[corpus["gnn3"].id] == "similar abstract" and reasons[corpus["gnn2"].id] == "similar abstract"
    assert reasons[corpus["hopper"].id] == "same authors"
    assert reasons[corpus["ocean"].id] == "members who saved this also saved"
    assert corpus["bread"].id not in reasons  # nothing in common: not shown, even though 10 were asked for
    assert body["count"] == len(body["data"]) == 4
    page = client.get(f"/papers/{corpus['gnn'].id}").text
    similar = page.split('id="similar-h"')[1]
    assert (
        "same authors" in similar and "similar abstract" in similar and "members who saved this also saved" in similar
    )
    assert corpus["bread"].title not in similar


def test_similar_without_anything_related_says_so(settings: Settings, corpus: dict[str, Paper]) -> None:
    client, _engine = _client(settings)
    body = client.get(f"/api/v1/papers/{corpus['bread'].id}/similar").json()
    assert body["data"] == [] and body["count"] == 0
    assert "No similar papers found yet." in client.get(f"/papers/{corpus['bread'].id}").text


def _signed_in(client: TestClient, engine: Engine, user: User) -> None:
    with engine.begin() as conn:
        client.cookies.set(SESSION_COOKIE, create_session(conn=conn, user_id=user.id))


def test_not_interested_removes_the_paper_and_sinks_what_is_like_it(
    settings: Settings, corpus: dict[str, Paper]
) -> None:
    client, engine = _client(settings)
    [ann] = _members(engine, ["ann"])
    _save(engine, ann, corpus["gnn"])
    with engine.begin() as conn:
        token = create_api_token(conn=conn, user_id=ann.id, name="t")
    auth = {"Authorization": f"Bearer {token}"}
    before = client.get("/api/v1/for-you", headers=auth).json()
    order = [d["paper"]["id"] for d in before["data"]]
    assert order[0] == corpus["gnn3"].id and corpus["gnn2"].id in order
    score_before = {d["paper"]["id"]: d["score"] for d in before["data"]}

    r = client.post(f"/api/v1/for-you/not-interested/{corpus['gnn3'].id}", headers=auth)
    assert r.status_code == 200 and r.json() == {"id": corpus["gnn3"].id, "not_interested": True}
    after = client.get("/api/v1/for-you", headers=auth).json()
    score_after = {d["paper"]["id"]: d["score"] for d in after["data"]}
    assert corpus["gnn3"].id not in score_after and after["not_interested"] == 1
    assert score_after[corpus["gnn2"].id] < score_before[corpus["gnn2"].id]  # like the dismissed one: sinks
    with engine.connect() as conn:
        assert not_interested_ids(conn=conn, user_id=ann.id) == [corpus["gnn3"].id]

    assert client.delete(f"/api/v1/for-you/not-interested/{corpus['gnn3'].id}", headers=auth).json() == {
        "id": corpus["gnn3"].id,
        "not_interested": False,
    }
    assert corpus["gnn3"].id in [d["paper"]["id"] for d in client.get("/api/v1/for-you", headers=auth).json()["data"]]
    assert client.post("/api/v1/for-you/not-interested/9999.99999", headers=auth).status_code == 404
    assert client.post(f"/api/v1/for-you/not-interested/{corpus['gnn3'].id}").status_code == 401


def test_not_interested_form_on_the_page(settings: Settings, corpus: dict[str, Paper]) -> None:
    client, engine = _client(settings)
    [ann] = _members(engine, ["ann"])
    _save(engine, ann, corpus["gnn"])
    _signed_in(client, engine, ann)
    page = client.get("/for-you").text
    assert corpus["gnn3"].title in page and page.count("Not interested") >= 2
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    # without the CSRF token the form is refused and nothing is stored
    refused = client.post("/for-you/not-interested", data={"paper_id": corpus["gnn3"].id}, follow_redirects=False)
    assert refused.status_code in (400, 403) and "Reload the page" in refused.text
    with engine.connect() as conn:
        assert not_interested_ids(conn=conn, user_id=ann.id) == []
    r = client.post(
        "/for-you/not-interested",
        data={"paper_id": corpus["gnn3"].id, "csrf_token": csrf, "next": "/for-you"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/for-you"
    again = client.get("/for-you").text
    assert corpus["gnn3"].title not in again and "1 paper marked “not interested”" in again


def test_recommendations_leave_out_the_library_and_are_deterministic(
    engine: Engine, settings: Settings, corpus: dict[str, Paper]
) -> None:
    [ann] = _members(engine, ["ann"])
    _save(engine, ann, corpus["gnn"], corpus["gnn2"])
    searcher = indexed_searcher(engine, settings)
    with engine.connect() as conn:
        recs = recommend(conn=conn, user_id=ann.id, searcher=searcher, limit=10)
        again = recommend(conn=conn, user_id=ann.id, searcher=searcher, limit=10)
    assert corpus["gnn"].id not in recs.ids and corpus["gnn2"].id not in recs.ids
    assert recs.ids[0] == corpus["gnn3"].id and recs.kinds[corpus["gnn3"].id] == "similar abstract"
    assert recs.kinds[corpus["hopper"].id] == "same authors"
    assert recs.reasons[corpus["hopper"].id].startswith("same authors as ")
    assert corpus["bread"].id not in recs.ids
    assert (again.ids, again.scores) == (recs.ids, recs.scores)


def test_diversification_breaks_up_near_duplicates(tmp_path: Path) -> None:
    """Eight near-copies of one topic and four of a nearby one: the first five are not all copies."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=16), rng.normal(size=16)
    ids, vecs, docs = [], [], []
    for i in range(8):
        ids.append(f"a{i}")
        vecs.append(a + rng.normal(scale=0.05, size=16))
        docs.append(LexicalDoc(f"a{i}", f"paper {i}", "shared words"))
    for i in range(4):
        ids.append(f"b{i}")
        vecs.append(0.6 * a + 0.8 * b + rng.normal(scale=0.05, size=16))
        docs.append(LexicalDoc(f"b{i}", f"paper {i}", "shared words"))
    for i in range(6):  # unrelated papers
        ids.append(f"c{i}")
        vecs.append(rng.normal(size=16))
        docs.append(LexicalDoc(f"c{i}", f"paper {i}", "shared words"))
    ids.append("seed")
    vecs.append(a + 0.3 * b)
    docs.append(LexicalDoc("seed", "paper", "shared words"))
    mat = np.asarray(vecs, dtype=np.float32)
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)

    class Emb:
        name, dim, fingerprint = "test", 16, "test-16"

    dense = DenseIndex.open(tmp_path, "test")
    dense.prepare(Emb())  # type: ignore[arg-type]
    dense.add(ids, mat, ids)
    dense.commit()
    lexical = LexicalIndex.open(tmp_path / "lexical")
    lexical.add(docs)
    lexical.commit()
    seed = [Subject("seed", "paper", "shared words")]
    plain = rank_library(seed, lexical=lexical, dense=dense, mmr_lambda=1.0, limit=5)
    diverse = rank_library(seed, lexical=lexical, dense=dense, limit=5)
    assert all(i.startswith("a") for i in plain.ids)  # by score alone: five near-duplicates
    assert any(i.startswith("b") for i in diverse.ids[:5]) and diverse.ids[0] == plain.ids[0]
    assert not any(i.startswith("c") for i in diverse.ids)  # spread out, not replaced by unrelated papers


def _citations(folder: Path) -> Path:
    rows = [
        ("1", "Sorting records with merge sort", "merge sort sorting records tapes"),
        ("2", "Merge sorting on magnetic tapes", "tape merge sort records"),
        ("3", "Polyphase merge sorting", "polyphase merge sort tapes"),
        ("4", "Hash tables for symbol lookup", "hashing symbol tables compilers"),
        ("5", "Symbol tables in compilers", "compiler symbol table hashing lookup"),
        ("6", "Open addressing hash tables", "hashing open addressing lookup"),
        ("7", "Tape sorting with replacement selection", "replacement selection sort tapes runs"),
        ("8", "External sorting of large files", "external sort merge runs on tapes"),
    ]
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as fh:
        for pid, title, text in rows:
            fh.write(
                json.dumps({"_id": pid, "title": title, "text": text, "metadata": {"authors": "Knuth, D. E."}}) + "\n"
            )
    links = ["1\t2", "1\t3", "1\t7", "2\t1", "2\t3", "2\t7", "4\t5", "4\t6", "5\t4", "5\t6", "6\t4", "6\t5"]
    links += ["3\t1", "3\t2", "3\t7", "7\t1", "7\t2", "7\t3"]
    links += [f"{a}\t{b}" for a in "1237" for b in "8"] + [f"8\t{b}" for b in "1237"]
    (folder / "qrels" / "links.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{x}\t1\n" for x in links))
    return folder


def test_eval_commands_print_the_measures(tmp_path: Path, settings: Settings) -> None:
    folder = _citations(tmp_path / "cites")
    env = {"PAPERFEED_DATA_DIR": str(settings.data_dir), "PAPERFEED_EMBEDDER": "none"}
    runner = CliRunner()
    got = runner.invoke(cli_app, ["eval-similar", str(folder), "--model", "none", "--json"], env=env)
    assert got.exit_code == 0, got.output
    result = json.loads(got.stdout)
    assert list(result) == ["lexical", "bm25", "fused", "fused_cut"] and result["fused"]["queries"] == 5
    assert 0.5 < result["lexical"]["ndcg@20"] <= 1 and 0 < result["fused"]["recall@100"] <= 1
    table = runner.invoke(cli_app, ["eval-foryou", str(folder), "--model", "none"], env=env)
    assert table.exit_code == 0 and "recall@20" in table.stdout and "profile" in table.stdout
    missing = runner.invoke(cli_app, ["eval-similar", str(tmp_path / "nope"), "--model", "none"], env=env)
    assert missing.exit_code == 1 and "corpus.jsonl" in missing.output


@pytest.mark.skipif(
    "postgresql" not in __import__("os").environ.get("PAPERFEED_TEST_BACKEND", ""),
    reason="PostgreSQL full-text search: run with PAPERFEED_TEST_BACKEND=postgresql",
)
def test_related_papers_on_postgresql_search(settings: Settings, corpus: dict[str, Paper]) -> None:
    client, engine = _client(settings.model_copy(update={"search_backend": "postgres"}))
    ann, bob = _members(engine, ["ann", "bob"])
    for member in (ann, bob):
        _save(engine, member, corpus["gnn"], corpus["ocean"])
    body = client.get(f"/api/v1/papers/{corpus['gnn'].id}/similar").json()
    reasons = {h["paper"]["id"]: h["reason"] for h in body["data"]}
    assert reasons[corpus["gnn3"].id] == "similar abstract" and reasons[corpus["hopper"].id] == "same authors"
    assert reasons[corpus["ocean"].id] == "members who saved this also saved" and corpus["bread"].id not in reasons
    with engine.begin() as conn:
        token = create_api_token(conn=conn, user_id=ann.id, name="t")
    auth = {"Authorization": f"Bearer {token}"}
    recs = client.get("/api/v1/for-you", headers=auth).json()
    assert recs["source"] == "lexical" and corpus["gnn3"].id in [d["paper"]["id"] for d in recs["data"]]
    client.post(f"/api/v1/for-you/not-interested/{corpus['gnn3'].id}", headers=auth)
    again = client.get("/api/v1/for-you", headers=auth).json()
    assert corpus["gnn3"].id not in [d["paper"]["id"] for d in again["data"]] and again["not_interested"] == 1
