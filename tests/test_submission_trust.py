"""Member submissions are never authoritative (issue 21, items 3 and 4): an arXiv id counts only once the
stand-in arXiv confirms it, arXiv's record replaces pasted text, no paper changes identity on a pasted title,
and parallel submissions of one paper all get that paper (real requests against a served instance)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from paperfeed.ingest.arxiv_atom import parse_atom_bytes
from paperfeed.models import Author, Paper
from paperfeed.store.email_verification import mark_email_verified
from paperfeed.store.papers import get_paper, upsert_papers
from paperfeed.store.users import get_user_by_username
from paperfeed.web.app import create_app
from tests.arxiv_server import FIXTURES, Reply, arxiv_server, fixture
from tests.factories import api_token as new_member_token
from tests.factories import make_paper
from tests.servers import free_port, running

REAL_TITLE = "Sparse Attention for Long Documents"  # 2401.01234 in tests/fixtures/api_fetch_two.xml
EMPTY_FEED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    b"<title>ArXiv Query</title><id>http://arxiv.org/api/x</id><updated>2024-02-05T00:00:00-05:00</updated>"
    b'<opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0'
    b"</opensearch:totalResults></feed>\n"
)


def _arxiv(req: Any) -> Reply:
    """Knows 2401.01234 (and 2312.00042, in the same saved answer); nothing else."""
    wanted = req.params.get("id_list", "")
    if wanted.startswith("2401.01234") or wanted.startswith("2312.00042"):
        return fixture("api_fetch_two.xml")
    return Reply(200, EMPTY_FEED, {"Content-Type": "application/atom+xml"})


def api_token(engine: Any, username: str) -> str:
    """A member with a verified address (only they may submit) and a personal API token of theirs."""
    token = new_member_token(engine, username)
    with engine.begin() as conn:
        user = get_user_by_username(conn=conn, username=username)
        assert user is not None
        mark_email_verified(conn=conn, user_id=user.id, email=user.email, now=datetime.now(UTC))
    return token


@pytest.fixture
def online(settings: Settings) -> Iterator[tuple[TestClient, Any]]:
    with arxiv_server(_arxiv) as server:
        on = settings.model_copy(update={"arxiv_api_url": server.url + "/api/query", "arxiv_max_retries": 0})
        with TestClient(create_app(on)) as client:
            yield client, server


def _auth(client: TestClient, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(client.app.state.engine, username)}"}  # type: ignore[attr-defined]


def _pasted(**more: Any) -> dict[str, Any]:
    return {
        "title": "A Completely Made Up Title",
        "abstract": "Pasted text that the member typed, long enough for the validator to accept it.",
        "authors": ["Mallory Mallet"],
        **more,
    }


def test_an_arxiv_id_with_made_up_metadata_stores_arxivs_record(online: tuple[TestClient, Any]) -> None:
    client, server = online
    r = client.post("/api/v1/submissions", json=_pasted(arxiv="2401.01234"), headers=_auth(client, "ada"))
    assert r.status_code == 201, r.text
    paper = r.json()["paper"]
    assert r.json()["id"] == "2401.01234" and paper["title"] == REAL_TITLE
    assert "Mallory Mallet" not in [a["name"] for a in paper["authors"]]
    assert server.requests and server.requests[0].params["id_list"].startswith("2401.01234")  # arXiv was asked
    stored = client.get("/api/v1/papers/2401.01234").json()
    assert stored["title"] == REAL_TITLE and "Made Up" not in client.get("/papers/2401.01234").text


def test_an_arxiv_id_arxiv_does_not_confirm_is_refused_and_nothing_is_stored(
    online: tuple[TestClient, Any], settings: Settings
) -> None:
    client, _ = online
    r = client.post("/api/v1/submissions", json=_pasted(arxiv="2405.99999"), headers=_auth(client, "ada"))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "arxiv"
    assert "arXiv has no paper 2405.99999" in r.json()["error"]
    assert client.get("/api/v1/papers/2405.99999").status_code == 404
    assert "A Completely Made Up Title" not in client.get("/api/v1/search", params={"q": "completely made"}).text


def test_arxiv_unreachable_means_the_id_is_not_accepted(settings: Settings) -> None:
    offline = settings.model_copy(
        update={"arxiv_api_url": "http://127.0.0.1:9/api/query", "arxiv_max_retries": 0, "http_timeout": 2.0}
    )
    with TestClient(create_app(offline)) as client:
        r = client.post("/api/v1/submissions", json=_pasted(arxiv="2405.99998"), headers=_auth(client, "ada"))
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "arxiv"
        assert "only once arXiv confirms it" in r.json()["error"]
        assert client.get("/api/v1/papers/2405.99998").status_code == 404


def test_a_pasted_title_of_a_stored_paper_never_reidentifies_it(online: tuple[TestClient, Any]) -> None:
    client, _ = online
    engine = client.app.state.engine  # type: ignore[attr-defined]
    victim = make_paper(id="pf-0123456789abcdef", title="Graph Sparsifiers in Practice", versions=[], source="bibtex")
    victim.authors = [Author("Grace Hopper")]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[victim])
    ada = _auth(client, "ada")
    # The victim's exact title with a new arXiv id: arXiv's record for that id is stored, the victim is untouched.
    r = client.post(
        "/api/v1/submissions", json=_pasted(title="Graph Sparsifiers in Practice", arxiv="2401.01234"), headers=ada
    )
    assert r.status_code == 201 and r.json()["id"] == "2401.01234" and r.json()["paper"]["title"] == REAL_TITLE
    # The victim's exact title, pasted without an id: the victim is submitted, unchanged.
    again = client.post("/api/v1/submissions", json=_pasted(title="graph sparsifiers in practice!"), headers=ada)
    assert again.status_code == 201 and again.json()["id"] == victim.id
    page = client.get(f"/api/v1/papers/{victim.id}", follow_redirects=False)
    assert page.status_code == 200 and page.json()["id"] == victim.id  # its URL does not redirect
    assert [a["name"] for a in page.json()["authors"]] == ["Grace Hopper"]
    assert page.json()["abstract"] == victim.abstract
    with engine.connect() as conn:
        stored = get_paper(conn=conn, paper_id=victim.id)
    assert stored is not None and stored.id == victim.id and stored.source == "bibtex"


def test_a_real_arxiv_record_replaces_pasted_text(engine: Any) -> None:
    """Pasted rows written by an older version (an arXiv id with made-up text) and a pasted paper whose title
    arXiv later lists: arXiv's record wins."""
    legacy = make_paper(
        id="2401.01234", title="A Completely Made Up Title", source="submission", versions=[], published=None
    )
    legacy.authors = [Author("Mallory Mallet")]
    pasted = Paper(
        id="pf-00000000000000aa",
        title="Scaling Laws for Tabular Foundation Models",
        abstract="Pasted words that are not the real abstract of the paper at all.",
        authors=[Author("Mallory Mallet")],
        source="submission",
    )
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[legacy, pasted])
    page = parse_atom_bytes((FIXTURES / "api_fetch_two.xml").read_bytes(), name="arXiv")
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[p for p in page.items if isinstance(p, Paper)])
        first = get_paper(conn=conn, paper_id="2401.01234")
        second = get_paper(conn=conn, paper_id="pf-00000000000000aa")  # followed to its arXiv id
    assert first is not None and first.title == REAL_TITLE
    assert "Mallory Mallet" not in [a.name for a in first.authors] and first.source != "submission"
    assert second is not None and second.id == "2312.00042"
    assert "Mallory Mallet" not in [a.name for a in second.authors]
    assert "not the real abstract" not in second.abstract


def _parallel(url: str, bodies: list[dict[str, Any]], tokens: list[str]) -> list[httpx.Response]:
    def post(i: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
        return httpx.post(url + "/api/v1/submissions", json=bodies[i], headers=headers, timeout=120)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(post, range(len(bodies))))


@pytest.mark.parametrize("how", ["pasted", "arxiv"])
def test_thirty_parallel_submissions_of_one_paper_all_get_that_paper(settings: Settings, how: str) -> None:
    with arxiv_server(_arxiv) as server:
        site = settings.model_copy(update={"arxiv_api_url": server.url + "/api/query", "arxiv_max_retries": 0})
        app = create_app(site)
        with running(app, free_port()) as url:
            tokens = [api_token(app.state.engine, f"member{i}") for i in range(6)]
            body = _pasted(title="One Paper Everyone Submits") if how == "pasted" else {"arxiv": "2401.01234"}
            answers = _parallel(url, [body] * 30, tokens)
    assert [r.status_code for r in answers if r.status_code not in (200, 201)] == [], [r.text for r in answers]
    assert len({r.json()["id"] for r in answers}) == 1
    assert sum(r.json()["created"] for r in answers) == 1 and sum(r.status_code == 201 for r in answers) == 1
    assert len({r.json()["submitted_by"] for r in answers}) == 1  # the first submitter wins, for everyone
