"""Papers like a text (``POST /api/v1/similar``, the ``/similar`` page with a PDF upload, ``paperfeed similar
--text``) and sorting similar papers (``sort=relevance|date|upvotes``).

Real store, real search service (words only: no model is loaded in tests; the text's embedding standing in
for a paper's is checked on real vector files), real uvicorn server and Debian's chromium for the page."""

from __future__ import annotations

import re
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
from paperfeed.pdf_text import MAX_PDF_BYTES
from paperfeed.rank.similar import Subject, rank_similar
from paperfeed.search.dense import DenseIndex
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from paperfeed.store.email_verification import mark_email_verified
from paperfeed.store.sessions import create_session
from paperfeed.store.users import User, create_user
from paperfeed.store.votes import add_vote
from paperfeed.web.app import create_app
from paperfeed.web.security import SESSION_COOKIE
from tests.factories import add_papers, api_token, cli_env, make_paper
from tests.pdf_files import make_pdf
from tests.searchers import similar_text
from tests.servers import CHROMIUM, chromium_tab, free_port, indexed, running

NOW = datetime.now(UTC).replace(microsecond=0)
ABSTRACT = (
    "We study message passing graph neural networks that predict molecular properties of drug candidates "
    "from their molecular graphs."
)
NO_TEXT_LAYER = "this PDF has no text layer: paste the abstract instead"


def _corpus(engine: Engine) -> dict[str, Paper]:
    """Three molecule papers published at different times, another paper of the first one's author, two
    unrelated ones."""

    def paper(title: str, abstract: str, author: str, days_ago: int) -> Paper:
        return make_paper(
            title=title, abstract=abstract, authors=[Author(author)], published=NOW - timedelta(days=days_ago)
        )

    papers = {
        "gnn": paper(
            "Graph neural networks for molecular property prediction",
            "Message passing graph neural networks predict molecular properties of drug candidates.",
            "Grace Hopper",
            300,
        ),
        "gnn_new": paper(
            "Message passing neural networks for molecular graphs",
            "Graph neural networks with message passing over molecular graphs of drug candidates.",
            "Donald Knuth",
            2,
        ),
        "gnn_mid": paper(
            "Equivariant message passing networks for molecules",
            "Equivariant graph neural networks with message passing predict molecular energies.",
            "Edsger Dijkstra",
            100,
        ),
        "hopper": paper(
            "Compilers for business data processing",
            "A compiler translating English-like statements into machine code for business records.",
            "Grace Hopper",
            50,
        ),
        "bread": paper(
            "Baking sourdough bread at high altitude",
            "Fermentation times of sourdough change with air pressure in mountain bakeries.",
            "Julia Child",
            1,
        ),
        "ocean": paper(
            "Ocean tides and coastal erosion",
            "Tidal currents shape coastlines through sediment transport over decades.",
            "Rachel Carson",
            3,
        ),
    }
    add_papers(engine, list(papers.values()))
    return papers


@pytest.fixture
def site(settings: Settings) -> tuple[TestClient, Engine, dict[str, Paper]]:
    client = TestClient(create_app(settings))
    client.get("/")
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return client, engine, _corpus(engine)


def _member(engine: Engine, name: str) -> User:
    """A member with a verified address (only their upvotes count)."""
    with engine.begin() as conn:
        user = create_user(conn=conn, email=f"{name}@example.org", username=name, password_hash="x")
        mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=NOW)
        return user


def _session(engine: Engine, user: User) -> str:
    with engine.begin() as conn:
        return create_session(conn=conn, user_id=user.id)


def _field(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    return str(body["detail"][0]["field"])


def _titles(body: dict) -> list[str]:
    return [h["paper"]["title"] for h in body["data"]]


MOLECULES = {
    "Graph neural networks for molecular property prediction",
    "Message passing neural networks for molecular graphs",
    "Equivariant message passing networks for molecules",
}


def test_text_finds_papers_like_it_in_the_shape_of_a_papers_similar_list(site) -> None:
    client, engine, papers = site
    auth = {"Authorization": f"Bearer {api_token(engine, 'ada')}"}
    body = client.post("/api/v1/similar", json={"text": ABSTRACT, "limit": 10}, headers=auth).json()
    assert set(_titles(body)) == MOLECULES  # the compiler, bread and ocean papers share no topic: not padded
    assert {h["reason"] for h in body["data"]} == {"similar abstract"}
    assert body["id"] is None and body["count"] == 3 and body["sort"] == "relevance"
    assert "keyword (BM25) results" in body["warning"]  # no model here: the degradation is said, not hidden

    by_paper = client.get(f"/api/v1/papers/{papers['gnn'].id}/similar").json()
    assert set(body) == set(by_paper)  # the same response model
    assert set(body["data"][0]) == set(by_paper["data"][0]) == {"paper", "score", "reason", "snippet"}
    first = body["data"][0]["paper"]
    assert first == client.get(f"/api/v1/papers/{first['id']}").json()  # the full paper object

    # the paper's own text finds the paper itself first, then what the paper's similar list has, in its order
    own = papers["gnn"].title + ". " + papers["gnn"].abstract
    like_own = client.post("/api/v1/similar", json={"text": own}, headers=auth).json()
    assert like_own["data"][0]["paper"]["id"] == papers["gnn"].id
    textual = [h["paper"]["id"] for h in by_paper["data"] if h["reason"] == "similar abstract"]
    assert [h["paper"]["id"] for h in like_own["data"][1:]] == textual

    unrelated = client.post("/api/v1/similar", json={"text": "zebra unicorn saxophone"}, headers=auth).json()
    assert unrelated["data"] == [] and unrelated["count"] == 0

    refused = client.post("/api/v1/similar", json={"text": ABSTRACT})
    assert refused.status_code == 401 and "API token" in refused.json()["error"]


def test_text_is_validated_and_long_text_cut_with_a_note(site) -> None:
    client, engine, _papers = site
    auth = {"Authorization": f"Bearer {api_token(engine, 'ada')}"}

    def post(**body: object) -> object:
        return client.post("/api/v1/similar", json=body, headers=auth)

    for blank in ("", "   \n\t ", "?! -- ..."):
        refused = post(text=blank)
        assert refused.status_code == 422 and _field(refused) == "text", blank
    assert "no words" in post(text="  ").json()["error"]
    assert _field(post(text=ABSTRACT, limit=0)) == "limit" and _field(post(text=ABSTRACT, limit=51)) == "limit"
    assert _field(post(text=ABSTRACT, sort="citations")) == "sort"
    assert _field(post(text="graph " * 20_000)) == "text"  # past 100,000 characters: refused, not read
    assert _field(post(limit=3)) == "text"

    long = post(text=ABSTRACT + " " + "unrelated filler words about nothing in particular " * 100).json()
    assert "the text was cut to its first" in long["warning"] and "characters" in long["warning"]
    assert set(_titles(long)) == MOLECULES  # the start, which is read, is about molecules
    assert post(text=ABSTRACT, limit=1).json()["count"] == 1


def test_sort_reorders_the_same_papers_and_never_adds_weaker_ones(site) -> None:
    client, engine, papers = site
    gnn = papers["gnn"].id

    def listed(sort: str, limit: int = 10) -> list[str]:
        body = client.get(f"/api/v1/papers/{gnn}/similar", params={"sort": sort, "limit": limit}).json()
        assert body["sort"] == sort
        return [h["paper"]["id"] for h in body["data"]]

    relevance = listed("relevance")
    assert set(relevance) == {papers[k].id for k in ("gnn_new", "gnn_mid", "hopper")}
    assert listed("date") == [papers[k].id for k in ("gnn_new", "hopper", "gnn_mid")]  # newest first
    ann, bob, cy, di, ed = (_member(engine, n) for n in ("ann", "bob", "cy", "di", "ed"))
    with engine.begin() as conn:
        for who, key in ((ann, "gnn_mid"), (bob, "gnn_mid"), (cy, "hopper"), (di, "bread"), (ed, "bread")):
            add_vote(conn=conn, user_id=who.id, paper_id=papers[key].id)
    # most upvoted first among the same papers: bread, upvoted as much as any, never joins
    assert listed("upvotes") == [papers[k].id for k in ("gnn_mid", "hopper", "gnn_new")]
    assert listed("relevance") == relevance
    # with a limit, the sort reorders the best `limit` papers: it never swaps in others
    assert listed("date", limit=2) == sorted(relevance[:2], key=lambda pid: _age(papers, pid))
    assert client.get(f"/api/v1/papers/{papers['bread'].id}/similar", params={"sort": "date"}).json()["data"] == []
    page = client.get(f"/papers/{gnn}", params={"similar": "date"}).text.split('id="similar-h"')[1]
    where = [page.index(papers[k].title) for k in ("gnn_new", "hopper", "gnn_mid")]  # the page, as the API
    assert where == sorted(where) and papers["bread"].title not in page
    assert '#similar-h" aria-current="true">Newest</a>' in page
    assert _field(client.get(f"/api/v1/papers/{gnn}/similar", params={"sort": "trending"})) == "sort"

    auth = {"Authorization": f"Bearer {api_token(engine, 'ada')}"}
    by_text = client.post("/api/v1/similar", json={"text": ABSTRACT, "sort": "date"}, headers=auth).json()
    assert _titles(by_text) == [papers[k].title for k in ("gnn_new", "gnn_mid", "gnn")]
    by_votes = client.post("/api/v1/similar", json={"text": ABSTRACT, "sort": "upvotes"}, headers=auth).json()
    assert _titles(by_votes)[0] == papers["gnn_mid"].title and set(_titles(by_votes)) == MOLECULES


def _age(papers: dict[str, Paper], pid: str) -> float:
    found = next(p for p in papers.values() if p.id == pid)
    assert found.published is not None
    return (NOW - found.published).total_seconds()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_similar_page_pastes_uploads_and_refuses_clearly(site) -> None:
    client, engine, papers = site
    assert '<a href="/similar">Find papers like a text</a>' in client.get("/search").text  # found from search
    signed_out = client.get("/similar")
    assert signed_out.status_code == 200 and "to find papers like a text: it is a members' feature" in signed_out.text
    token = _csrf(signed_out.text)
    post = client.post("/similar", data={"csrf_token": token, "text": ABSTRACT}, follow_redirects=False)
    assert post.status_code == 303 and post.headers["location"].startswith("/login")  # members only

    client.cookies.set(SESSION_COOKIE, _session(engine, _member(engine, "lin")))
    page = client.get("/similar").text
    assert "members' feature" not in page
    token = _csrf(page)

    pasted = client.post("/similar", data={"csrf_token": token, "text": ABSTRACT, "sort": "date"})
    results = pasted.text.split('id="results-h"')[1]
    assert "3 papers like this text" in results
    shown = [t for t in (papers[k].title for k in ("gnn_new", "gnn_mid", "gnn")) if t in results]
    assert len(shown) == 3 and [results.index(t) for t in shown] == sorted(results.index(t) for t in shown)
    assert papers["bread"].title not in results and papers["hopper"].title not in results
    assert 'value="date" selected' in pasted.text and ABSTRACT in pasted.text  # the form keeps what was asked

    pdf = make_pdf(["Graph networks for chemistry", "A. Author", "Abstract", ABSTRACT])
    uploaded = client.post(
        "/similar", data={"csrf_token": token, "text": ""}, files={"pdf": ("paper.pdf", pdf, "application/pdf")}
    )
    assert uploaded.status_code == 200 and "Read paper.pdf" in uploaded.text
    assert all(t in uploaded.text.split('id="results-h"')[1] for t in MOLECULES)

    def refused(name: str, data: bytes) -> tuple[int, str]:
        got = client.post(
            "/similar", data={"csrf_token": token, "text": ""}, files={"pdf": (name, data, "application/pdf")}
        )
        alert = got.text.split('role="alert"')[1].split("</div>")[0]
        return got.status_code, alert

    assert refused("scan.pdf", make_pdf([])) == (422, f'><p id="err-pdf">PDF: scan.pdf: {NO_TEXT_LAYER}</p>')
    status, alert = refused("notes.txt", b"just some words")
    assert status == 422 and "this file is not a PDF" in alert
    big = b"%PDF-1.4\n" + b"0" * MAX_PDF_BYTES  # over the PDF limit, within the request's: refused on the page
    status, alert = refused("big.pdf", big)
    assert status == 413 and "big.pdf: this PDF is larger than 10 MB" in alert
    huge = client.post(  # over the request's limit: refused before a byte of it is read
        "/similar", data={"csrf_token": token}, files={"pdf": ("huge.pdf", big + b"0" * (2 << 20), "application/pdf")}
    )
    assert huge.status_code == 413 and "The request body is larger than 11 MB" in huge.text
    assert refused("empty.pdf", b"") == (422, '><p id="err-pdf">PDF: empty.pdf: the file is empty</p>')
    nothing = client.post("/similar", data={"csrf_token": token, "text": "  "})
    assert nothing.status_code == 422 and "paste an abstract (or any passage), or choose a PDF" in nothing.text
    forged = client.post("/similar", data={"csrf_token": "forged", "text": ABSTRACT})
    assert forged.status_code == 400 and "did not come from this site" in forged.text


def test_similar_text_command_reads_a_file_stdin_or_a_pdf(settings: Settings, engine: Engine, tmp_path: Path) -> None:
    papers = _corpus(engine)
    env = cli_env(settings.data_dir, settings.database_url)
    runner = CliRunner()
    text_file = tmp_path / "abstract.txt"
    text_file.write_text(ABSTRACT, encoding="utf-8")

    got = runner.invoke(cli_app, ["similar", "--text", str(text_file), "--json"], env=env)
    assert got.exit_code == 0, got.output
    assert {h["title"] for h in _json_of(got.stdout)} == MOLECULES

    piped = runner.invoke(cli_app, ["similar", "--text", "-", "--sort", "date", "--json"], input=ABSTRACT, env=env)
    assert piped.exit_code == 0, piped.output
    assert [h["id"] for h in _json_of(piped.stdout)] == [papers[k].id for k in ("gnn_new", "gnn_mid", "gnn")]

    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(make_pdf(["Abstract", ABSTRACT]))
    table = runner.invoke(cli_app, ["similar", "--text", str(pdf), "-n", "1"], env=env)
    assert table.exit_code == 0 and table.stdout.count("similar abstract") == 1
    assert any(t in table.stdout for t in MOLECULES)

    scan = tmp_path / "scan.pdf"
    scan.write_bytes(make_pdf([]))
    for args, message in (
        (["--text", str(scan)], f"{scan}: {NO_TEXT_LAYER}"),
        (["--text", str(tmp_path / "missing.txt")], "cannot read"),
        (["--text", "-"], "--text -: give some text"),
        ([papers["gnn"].id, "--text", str(text_file)], "give a paper ID or --text FILE"),
        ([], "give a paper ID or --text FILE"),
        ([papers["gnn"].id, "--sort", "trending"], "--sort must be one of relevance, date, upvotes"),
    ):
        failed = runner.invoke(cli_app, ["similar", *args], input="   ", env=env)
        assert failed.exit_code == 1 and message in failed.stderr, (args, failed.stderr)


def _json_of(out: str) -> list[dict]:
    import json

    return json.loads(out)


def test_a_texts_vector_stands_in_for_a_papers(tmp_path: Path) -> None:
    """On real index files: the text's embedding finds the papers the paper's stored vector finds, by
    meaning alone (no word in common), and a far one stays out (no padding)."""
    rng = np.random.default_rng(7)
    base = rng.normal(size=384)
    near = base + rng.normal(scale=0.3, size=384)
    far = rng.normal(size=384)
    vecs = np.stack([base, near, far]).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs = [
        LexicalDoc("p0", "Graph networks", "message passing over molecules", "A"),
        LexicalDoc("p1", "Protein folding", "structure from sequence", "B"),
        LexicalDoc("p2", "Tidal erosion", "coastlines and sediment", "C"),
    ]
    lexical = LexicalIndex.open(tmp_path / "lexical")
    lexical.add(docs)
    lexical.commit()

    class Model:
        name, dim, fingerprint = "test", 384, "test-384"

    dense = DenseIndex.open(tmp_path, "test")
    dense.prepare(Model())  # type: ignore[arg-type]
    dense.add(["p0", "p1", "p2"], vecs, ["p0", "p1", "p2"])
    dense.commit()

    as_paper = rank_similar(
        Subject("p0", "Graph networks", "message passing over molecules"), lexical=lexical, dense=dense, model="minilm"
    )
    as_text = rank_similar(
        Subject("", "", "sheep and violins", vector=vecs[0], is_text=True), lexical=lexical, dense=dense, model="minilm"
    )
    assert as_paper.ids == ["p1"] and as_text.ids == ["p0", "p1"]  # the text matches p0 itself, then p1
    assert as_text.raw["dense"]["p1"] == pytest.approx(as_paper.raw["dense"]["p1"], abs=1e-5)
    assert as_text.raw["lexical"] == {}  # no word of the text is in the index


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium")
def test_similar_page_uploads_a_pdf_in_chromium_without_javascript(settings: Settings, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    port = free_port()
    app = create_app(settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"}))
    with running(app, port) as base:
        engine: Engine = app.state.engine
        papers = _corpus(engine)
        indexed(app)  # the papers stored after the start: published before they are asked for
        cookie = _session(engine, _member(engine, "lin"))
        good, scan = tmp_path / "paper.pdf", tmp_path / "scan.pdf"
        good.write_bytes(make_pdf(["Graph networks for chemistry", "Abstract", ABSTRACT]))
        scan.write_bytes(make_pdf([]))
        with chromium_tab(base, java_script_enabled=False) as tab:
            tab.context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": base}])
            tab.goto("/similar")
            tab.set_input_files("input[name=pdf]", str(good))
            tab.click("form.stack button[type=submit]")
            expect(tab.locator("#results-h")).to_have_text("3 papers like this text")
            titles = tab.locator(".similar-results article.card h3").all_inner_texts()
            assert set(titles) == MOLECULES
            expect(tab.locator(".notice[role=status]").first).to_contain_text("Read paper.pdf")
            expect(tab.locator("textarea[name=text]")).to_have_value(re.compile("message passing graph neural"))

            tab.select_option("select[name=sort]", "date")  # the text read is in the form: no second upload
            tab.click("form.stack button[type=submit]")
            titles = tab.locator(".similar-results article.card h3").all_inner_texts()
            assert titles == [papers[k].title for k in ("gnn_new", "gnn_mid", "gnn")]

            tab.set_input_files("input[name=pdf]", str(scan))
            tab.click("form.stack button[type=submit]")
            expect(tab.locator(".notice.error")).to_contain_text(NO_TEXT_LAYER)
            expect(tab.locator("#results-h")).to_have_count(0)


def test_the_served_model_embeds_the_text_once(settings: Settings, engine: Engine) -> None:
    """Through the search service with a model: the text itself is embedded (no keyword-only warning), and
    asking again in another order reuses its vector."""
    from paperfeed.search.factory import make_searcher
    from tests.test_dense import HashingEmbedder

    papers = _corpus(engine)
    model = HashingEmbedder(name="static")
    searcher = make_searcher(engine=engine, settings=settings, embedder=model)
    searcher.refresh()
    found = similar_text(searcher, f"  {ABSTRACT}\n\n", limit=10)
    assert found.notes == [] and ABSTRACT in model.embedded  # whitespace collapsed, then embedded
    assert {h.paper.title for h in found.hits} >= MOLECULES
    assert papers["bread"].title not in {h.paper.title for h in found.hits}
    embedded = len(model.embedded)
    by_date = similar_text(searcher, ABSTRACT, limit=10, sort="date")
    assert len(model.embedded) == embedded  # the same text: its vector comes from the cache
    assert {h.paper.id for h in by_date.hits} == {h.paper.id for h in found.hits}
