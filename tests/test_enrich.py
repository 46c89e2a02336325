"""``paperfeed enrich``: papers without an arXiv id get their arXiv record by exact title, through a local
stand-in for the arXiv API; member data follows a merged paper; different papers are never merged."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from paperfeed.cli import app
from paperfeed.config import Settings
from paperfeed.ids import derived_id
from paperfeed.ingest.enrich import enrich_pending, title_key
from paperfeed.ingest.http import PoliteClient
from paperfeed.models import Author, Paper
from paperfeed.store.comments import add_comment, list_comments
from paperfeed.store.library import library_add, library_list
from paperfeed.store.papers import _to_row, get_paper, now_utc, upsert_papers
from paperfeed.store.schema import papers
from paperfeed.store.submissions import add_submission, get_submission
from paperfeed.store.votes import add_vote, vote_counts
from tests.arxiv_server import ApiEntry, api_entries, api_title_search, arxiv_server, closed_port
from tests.factories import create_verified_user, make_paper

DEMO = Path(__file__).resolve().parent.parent / "paperfeed" / "data" / "demo_papers.jsonl"
# Canned API entries for demo titles (metadata as arXiv lists it), plus titles that only contain theirs.
CANNED = api_entries("enrich_api_entries")  # tests/fixtures/enrich_api_entries.toml
MRL, MRL_2D, MRL_REC, UCP = CANNED


def demo_id(title: str) -> str:
    for line in DEMO.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("title") == title:
            return str(record["id"])
    raise AssertionError(f"{title!r} is not a demo paper")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    db = str(tmp_path / "enrich.db")
    for key, value in {"DATA_DIR": str(tmp_path / "data"), "EMBEDDER": "none", "ARXIV_REQUEST_INTERVAL": "0"}.items():
        monkeypatch.setenv(f"PAPERFEED_{key}", value)

    def invoke(*args: str, api: str) -> object:
        monkeypatch.setenv("PAPERFEED_ARXIV_API_URL", api)
        monkeypatch.setenv("PAPERFEED_ARXIV_MAX_RETRIES", "0")
        return CliRunner().invoke(app, ["enrich", *args, "--db", db])

    invoke.db = db  # type: ignore[attr-defined]
    return invoke


def _stored(db: str, paper_id: str) -> Paper | None:
    from paperfeed.store.db import open_store

    engine = open_store(Settings(_env_file=None, database_url=db, seed_demo=False))  # type: ignore[call-arg]
    with engine.connect() as conn:
        found = get_paper(conn=conn, paper_id=paper_id)
    engine.dispose()
    return found


def test_enrich_gives_demo_papers_their_arxiv_metadata(cli: Callable[..., object]) -> None:
    with arxiv_server(api_title_search(CANNED)) as server:
        result = cli("--json", api=f"{server.url}/api/query")
        asked = len(server.requests)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    report = json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[attr-defined]
    assert report["resolved"] == 4 and report["ambiguous"] == 0 and report["failed"] == 0
    assert report["not_found"] == asked - 4 > 300  # every other demo paper was asked about, once
    assert all(q.params["search_query"].startswith('ti:"') for q in server.requests)
    db = cli.db  # type: ignore[attr-defined]
    mrl = _stored(db, demo_id("Matryoshka Representation Learning"))  # the old id still leads to it
    assert mrl is not None and mrl.id == "2205.13147"
    assert mrl.author_names[:2] == ["Aditya Kusupati", "Gantavya Bhatt"]
    assert mrl.categories == ["cs.LG", "cs.CV"] and mrl.primary_category == "cs.LG"
    assert mrl.abs_url == "https://arxiv.org/abs/2205.13147" and mrl.pdf_url and "2205.13147" in mrl.pdf_url
    assert mrl.published is not None and mrl.published.date().isoformat() == "2022-05-26"
    two_d = _stored(db, demo_id("2D Matryoshka Sentence Embeddings"))
    assert two_d is not None and two_d.id == "2402.14776" and two_d.title == "2D Matryoshka Sentence Embeddings"
    assert two_d.author_names[0] == "Xianming Li"
    rec = _stored(db, demo_id(MRL_REC.title))
    assert rec is not None and rec.id == "2409.16627"
    ucp = _stored(db, demo_id(UCP.title))
    assert ucp is not None and ucp.id == "2406.18820" and "Stas Bekman" in ucp.author_names
    # Papers arXiv did not know are remembered: a second run asks nothing, --retry asks again.
    with arxiv_server(api_title_search(CANNED)) as server:
        again = cli("--json", api=f"{server.url}/api/query")
        assert json.loads(again.stdout.strip().splitlines()[-1])["not_found"] == 0  # type: ignore[attr-defined]
        assert server.requests == []
        retried = cli("--retry", "--limit", "5", api=f"{server.url}/api/query")
        assert len(server.requests) == 5
    assert "not found 5" in retried.stdout  # type: ignore[attr-defined]


def _pf(title: str, authors: list[str] | None = None) -> Paper:
    return Paper(
        id=derived_id(title),
        title=title,
        abstract="An abstract from a saved page.",
        authors=[Author(a) for a in authors or []],
        code_url="https://github.com/example/code",
        source="hf-pages",
    )


def _run(engine: Engine, settings: Settings, url: str, **kw: object) -> dict[str, object]:
    s = settings.model_copy(update={"arxiv_api_url": url})
    with PoliteClient.from_settings(s) as client:
        return enrich_pending(engine=engine, settings=s, client=client, **kw).as_dict()  # type: ignore[arg-type]


def test_merge_into_existing_arxiv_row_moves_member_data(engine: Engine, settings: Settings) -> None:
    pf = _pf("Matryoshka Representation Learning", ["Kusupati, Aditya"])
    arxiv_row = make_paper(id="2205.13147", title="Matryoshka Representation Learning", code_url=None)
    other = _pf("2D Matryoshka Sentence Embeddings")
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[arxiv_row])
        # Rows written as they are (upsert would merge by title): a pf- row beside its arXiv row, as an
        # older store or two concurrent writers can leave it.
        for p in (pf, other):
            row = _to_row(p)
            row.update(first_seen=now_utc(), changed_at=now_utc(), withdrawn=False)
            conn.execute(papers.insert().values(**row))
        ada = create_verified_user(conn=conn, email="ada@example.org", username="ada", password_hash="x").id
        bob = create_verified_user(conn=conn, email="bob@example.org", username="bob", password_hash="x").id
        add_vote(conn=conn, user_id=ada, paper_id=pf.id)
        add_vote(conn=conn, user_id=ada, paper_id="2205.13147")  # the same member on both rows
        add_vote(conn=conn, user_id=bob, paper_id=pf.id)
        add_vote(conn=conn, user_id=bob, paper_id=other.id)
        library_add(conn=conn, user_id=bob, paper_id=pf.id)
        add_comment(conn=conn, paper_id=pf.id, user_id=bob, body="Nested dims!", parent_id=None)
        add_submission(conn=conn, paper_id=pf.id, user_id=bob)
    with arxiv_server(api_title_search(CANNED)) as server:
        report = _run(engine, settings, f"{server.url}/api/query")
    assert report["resolved"] == 2
    with engine.connect() as conn:
        merged = get_paper(conn=conn, paper_id=pf.id)
        assert merged is not None and merged.id == "2205.13147"
        assert merged.author_names[0] == "Aditya Kusupati" and merged.code_url == "https://github.com/example/code"
        assert vote_counts(conn=conn, ids=["2205.13147", "2402.14776"]) == {"2205.13147": 2, "2402.14776": 1}
        assert library_list(conn=conn, user_id=bob) == ["2205.13147"]
        assert [c.body for c in list_comments(conn=conn, paper_id="2205.13147")] == ["Nested dims!"]
        assert get_submission(conn=conn, paper_id="2205.13147") is not None
        two_d = get_paper(conn=conn, paper_id=other.id)
        assert two_d is not None and two_d.id == "2402.14776"  # its own paper, never the MRL one


def test_title_must_match_exactly_and_authors_must_overlap(engine: Engine, settings: Settings) -> None:
    longer = _pf("Matryoshka Representation Learning for Recommendation")  # arXiv only has titles containing it
    strangers = _pf(
        "Universal checkpointing: efficient and flexible checkpointing for large-scale distributed training",
        ["Grace Hopper"],
    )
    latex = _pf(r"2{D} Matryoshka  Sentence Embeddings.", ["Li, Xianming"])
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[longer, strangers, latex])
    with arxiv_server(api_title_search(CANNED)) as server:
        report = _run(engine, settings, f"{server.url}/api/query")
    outcome = {p["id"]: p["outcome"] for p in report["papers"]}  # type: ignore[attr-defined]
    assert outcome == {longer.id: "not_found", strangers.id: "not_found", latex.id: "resolved"}
    assert title_key(r"2{D} Matryoshka  Sentence Embeddings.") == title_key(MRL_2D.title)
    with engine.connect() as conn:
        assert get_paper(conn=conn, paper_id=strangers.id).id == strangers.id  # type: ignore[union-attr]


def test_two_arxiv_papers_with_the_title_is_ambiguous(engine: Engine, settings: Settings) -> None:
    twin = ApiEntry("2501.00001v1", MRL.title, ("Someone Else",), "cs.LG", "2025-01-01")
    pf = _pf(MRL.title)
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[pf])
    with arxiv_server(api_title_search([MRL, twin])) as server:
        report = _run(engine, settings, f"{server.url}/api/query")
    assert (report["resolved"], report["ambiguous"]) == (0, 1)
    with engine.connect() as conn:
        assert get_paper(conn=conn, paper_id=pf.id).id == pf.id  # type: ignore[union-attr]


def test_arxiv_unreachable_changes_nothing_and_says_so(cli: Callable[..., object]) -> None:
    result = cli("--json", api=f"http://127.0.0.1:{closed_port()}/api/query")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    report = json.loads(result.stdout.strip().splitlines()[0])  # type: ignore[attr-defined]
    assert report["failed"] == 1 and report["resolved"] == 0 and "cannot reach 127.0.0.1" in report["error"]
    assert "cannot reach" in result.output  # type: ignore[attr-defined]
    assert _stored(cli.db, demo_id(MRL.title)).id.startswith("pf-")  # type: ignore[attr-defined,union-attr]


def test_never_merges_into_a_stored_paper_with_another_title(engine: Engine, settings: Settings) -> None:
    pf = _pf(MRL_2D.title)
    squatter = make_paper(id="2402.14776", title="Matryoshka Representation Learning")
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[squatter])
        row = _to_row(pf)
        row.update(first_seen=now_utc(), changed_at=now_utc(), withdrawn=False)
        conn.execute(papers.insert().values(**row))
    with arxiv_server(api_title_search(CANNED)) as server:
        report = _run(engine, settings, f"{server.url}/api/query")
    assert (report["resolved"], report["ambiguous"]) == (0, 1)
    assert "stored with a different title" in report["papers"][0]["reason"]  # type: ignore[index]
    with engine.connect() as conn:
        assert get_paper(conn=conn, paper_id=pf.id).title == MRL_2D.title  # type: ignore[union-attr]
        assert get_paper(conn=conn, paper_id="2402.14776").title == "Matryoshka Representation Learning"  # type: ignore[union-attr]


def test_serve_follow_enriches_in_the_background(engine: Engine, settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from paperfeed.web.app import create_app
    from tests.arxiv_server import OaiRecord, Request, oai_repository

    pf = _pf(MRL.title)
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[pf])
    day = now_utc().date().isoformat()
    oai = oai_repository([OaiRecord("2611.00001", "Sparse routing", "cs.LG", day, day)])
    api = api_title_search(CANNED)
    with arxiv_server(lambda req: api(req) if req.path == "/api/query" else oai(req)) as upstream:  # type: ignore[arg-type]
        follow = settings.model_copy(
            update={
                "follow": "cs.LG",
                "arxiv_oai_url": f"{upstream.url}/oai",
                "arxiv_api_url": f"{upstream.url}/api/query",
                "arxiv_max_retries": 0,
            }
        )
        with TestClient(create_app(follow)) as client:
            deadline = time.monotonic() + 30
            while "Aditya Kusupati" not in client.get("/papers/2205.13147").text:
                assert time.monotonic() < deadline, "the follower did not enrich the paper"
                time.sleep(0.2)
            assert "Sparse routing" in client.get("/").text
        asked: list[Request] = [r for r in upstream.requests if r.path == "/api/query"]
        assert [r.params["search_query"] for r in asked] == ['ti:"matryoshka representation learning"']
