"""Paperfeed's JSON API ``/api/v1``: search options, papers, similar, votes, library, submissions, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.config import Settings
from tests.factories import api_token, corpus, make_paper, site_client

HOSTILE_TITLE = 'Attack <script>alert("t")</script> & "quotes" <img src=x onerror=alert(1)>'
HOSTILE_ABSTRACT = "A graph <img src=x onerror=alert(1)> paper with hostile markup inside."


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    hostile = dict(title=HOSTILE_TITLE, abstract=HOSTILE_ABSTRACT, categories=["cs.CR"])
    papers = [*corpus("api_v1"), make_paper(id="2401.00004", published=datetime(2024, 4, 10, tzinfo=UTC), **hostile)]
    with site_client(settings, papers) as c:
        yield c


def token_for(client: TestClient, username: str) -> dict[str, str]:
    """A member and a personal API token, as the account page would make them."""
    token = api_token(client.app.state.engine, username)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def field_of(r: Any) -> str:
    assert 400 <= r.status_code < 500, r.text
    return str(r.json()["detail"][0]["field"])


def test_search_returns_hits_with_reason_snippet_score_total(client: TestClient) -> None:
    r = client.get("/api/v1/search", params={"q": "graph networks", "mode": "bm25"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and body["count"] == 3 and body["mode"] == "bm25"
    assert [h["paper"]["id"] for h in body["data"]][0] == "2401.00001"
    top = body["data"][0]
    assert top["reason"] == "lexical" and top["score"] > 0 and "<mark>" in top["snippet"]
    assert top["paper"]["links"]["pdf"] == "https://arxiv.org/pdf/2401.00001"
    hostile = next(h for h in body["data"] if h["paper"]["id"] == "2401.00004")
    assert hostile["paper"]["title"] == HOSTILE_TITLE  # JSON carries the text as is
    assert "<img" not in hostile["snippet"] and "&lt;img" in hostile["snippet"]  # snippets are HTML-safe


def test_search_filters_sort_and_paging(client: TestClient) -> None:
    def ids(**params: Any) -> list[str]:
        r = client.get("/api/v1/search", params={"q": "graph", "mode": "bm25", **params})
        assert r.status_code == 200, r.text
        return [h["paper"]["id"] for h in r.json()["data"]]

    assert ids(cat="cs.CL") == ["2401.00002"]
    assert set(ids(cat=["cs.CL", "cs.LG"])) == {"2401.00001", "2401.00002"}
    assert ids(**{"from": "2024-02-01", "to": "2024-03-31"}) == ["2401.00002"]
    assert ids(sort="date") == ["2401.00004", "2401.00002", "2401.00001"]
    assert ids(q="graph cat:cs.LG") == ["2401.00001"]  # the query language works too
    page1 = client.get("/api/v1/search", params={"q": "graph", "sort": "date", "limit": 2}).json()
    assert page1["total"] == 3 and page1["count"] == 2 and page1["prev"] is None
    assert "offset=2" in page1["next"]
    page2 = client.get(page1["next"]).json()
    assert [h["paper"]["id"] for h in page2["data"]] == ["2401.00001"] and page2["next"] is None
    params = {"q": "graph", "sort": "date", "limit": 2, "page": 2}
    by_page = client.get("/api/v1/search", params=params).json()
    assert by_page["offset"] == 2 and by_page["data"] == page2["data"]
    assert client.get("/api/v1/search", params={"q": "graph", "mode": "hybrid"}).status_code == 200
    only_filter = client.get("/api/v1/search", params={"cat": "q-bio.BM"}).json()
    assert [h["paper"]["id"] for h in only_filter["data"]] == ["2401.00003"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "graph", "limit": 0}, "limit"),
        ({"q": "graph", "limit": 101}, "limit"),
        ({"q": "graph", "offset": -1}, "offset"),
        ({"q": "graph", "offset": 10_001}, "offset"),
        ({"q": "graph", "page": 0}, "page"),
        ({"q": "graph", "page": 5000}, "page"),
        ({"q": "graph", "mode": "magic"}, "mode"),
        ({"q": "graph", "sort": "best"}, "sort"),
        ({"q": "graph", "from": "2024-13-01"}, "from"),
        ({"q": "graph", "from": "2024-05-01", "to": "2024-01-01"}, "from"),
        ({"q": "graph", "cat": "cs.CL'; DROP TABLE papers"}, "cat"),
        ({"q": "x" * 1001}, "q"),
        ({"q": "graph year:abc"}, "q"),
        ({"q": ""}, "q"),
        ({"q": "graph", "limit": "ten"}, "limit"),
    ],
)
def test_search_validation_errors_name_the_field(client: TestClient, params: dict[str, Any], field: str) -> None:
    r = client.get("/api/v1/search", params=params)
    assert r.status_code == 422 and field_of(r) == field
    assert field in r.json()["error"]


NOTHING = "Nothing to search for"


@pytest.mark.parametrize(
    "q, expected",
    [
        ('"unclosed', set()),  # an unclosed quote is a phrase, found nowhere
        ("AND OR NOT", NOTHING),  # operator words alone are not a query
        ("*", NOTHING),
        ("(((", NOTHING),
        ("author:", set()),
        ("cat:", set()),
        ("\x00\x01", NOTHING),
        ("' OR 1=1 --", {"2401.00004"}),  # the words, not SQL: only the paper with "1" in it
        ("🙂" * 300, NOTHING),
        ("-graph", {"2401.00003"}),  # only the exclusion: every paper without "graph"
        ('-"graph networks"', {"2401.00002", "2401.00003", "2401.00004"}),
        ("sort:date graph", {"2401.00001", "2401.00002", "2401.00004"}),  # the papers with "graph"
        ("NEAR(a b)", set()),
        ("title:^", set()),
    ],
)
def test_hostile_queries_answer_what_their_words_say(client: TestClient, q: str, expected: set[str] | str) -> None:
    r = client.get("/api/v1/search", params={"q": q})
    assert r.status_code == 200, r.text
    body = r.json()
    found = {h["paper"]["id"] for h in body["data"]}
    if isinstance(expected, str):
        assert found == set() and body["total"] == 0 and body["warning"].startswith(expected)
    else:
        assert found == expected and body["total"] == body["count"] == len(expected)


def test_paper_and_similar(client: TestClient) -> None:
    r = client.get("/api/v1/papers/2401.00002v3")
    assert r.status_code == 200 and r.json()["id"] == "2401.00002"
    assert r.json()["links"]["markdown"].endswith("/papers/2401.00002.md") and r.json()["upvotes"] == 0
    assert client.get("/api/v1/papers/9999.99999").status_code == 404
    assert client.get("/api/v1/papers/" + "x" * 300).status_code == 404
    sim = client.get("/api/v1/papers/2401.00001/similar", params={"limit": 2}).json()
    assert sim["id"] == "2401.00001" and 1 <= sim["count"] <= 2
    assert "2401.00001" not in [h["paper"]["id"] for h in sim["data"]]
    assert sim["data"][0]["paper"]["id"] == "2401.00002"
    # every factory paper has the same authors: "same authors" is the plainest true reason
    assert sim["data"][0]["reason"] == "same authors"
    assert client.get("/api/v1/papers/9999.99999/similar").status_code == 404
    assert field_of(client.get("/api/v1/papers/2401.00001/similar", params={"limit": 51})) == "limit"


def test_votes_need_a_token_and_count_exactly(client: TestClient) -> None:
    url = "/api/v1/papers/2401.00003/vote"
    assert client.post(url).status_code == 401
    assert client.post(url, headers={"Authorization": "Bearer pf_not-a-token"}).status_code == 401
    assert client.post(url, headers={"Authorization": "Basic abc"}).status_code == 401
    ada, bob = token_for(client, "ada"), token_for(client, "bob")
    assert client.post(url, headers=ada).json() == {"id": "2401.00003", "upvotes": 1, "voted": True}
    assert client.post(url, headers=ada).json()["upvotes"] == 1  # one vote per member
    assert client.post(url, headers=bob).json()["upvotes"] == 2
    assert client.get("/api/v1/papers/2401.00003").json()["upvotes"] == 2
    assert client.delete(url, headers=ada).json() == {"id": "2401.00003", "upvotes": 1, "voted": False}
    assert client.delete(url, headers=ada).json()["upvotes"] == 1  # un-voting twice changes nothing
    assert client.post("/api/v1/papers/9999.99999/vote", headers=ada).status_code == 404
    hf = client.get("/api/papers/2401.00003").json()
    assert hf["upvotes"] == 1  # the Hugging Face view sees the same count


def test_library_with_token(client: TestClient) -> None:
    ada = token_for(client, "ada")
    assert client.get("/api/v1/library").status_code == 401
    assert client.get("/api/v1/library", headers=ada).json()["count"] == 0
    r = client.put("/api/v1/library/2401.00001", headers=ada)
    assert r.json() == {"id": "2401.00001", "saved": True, "changed": True, "collection": None}
    assert client.put("/api/v1/library/2401.00001", headers=ada).json()["changed"] is False
    client.put("/api/v1/library/2401.00002", headers=ada)
    lib = client.get("/api/v1/library", headers=ada).json()
    assert {p["id"] for p in lib["data"]} == {"2401.00001", "2401.00002"} and lib["count"] == 2
    assert lib["collections"][0]["name"] == "Saved" and lib["collections"][0]["count"] == 2
    saved_id = lib["collections"][0]["id"]
    one = client.get("/api/v1/library", headers=ada, params={"collection": saved_id, "limit": 1}).json()
    assert one["count"] == 1 and one["collection"]["id"] == saved_id
    assert field_of(client.get("/api/v1/library", headers=ada, params={"collection": 99999})) == "collection"
    assert field_of(client.put("/api/v1/library/2401.00001", headers=ada, params={"collection": 99999})) == "collection"
    r = client.delete("/api/v1/library/2401.00001", headers=ada)
    assert r.json() == {"id": "2401.00001", "saved": False, "changed": True, "collection": None}
    assert [p["id"] for p in client.get("/api/v1/library", headers=ada).json()["data"]] == ["2401.00002"]
    bob = token_for(client, "bob")
    assert client.get("/api/v1/library", headers=bob).json()["count"] == 0  # libraries are private
    assert client.put("/api/v1/library/9999.99999", headers=ada).status_code == 404


def test_submission_by_metadata_appears_in_daily_papers(client: TestClient) -> None:
    ada = token_for(client, "ada")
    body = {
        "title": "A pasted paper about graph sparsifiers",
        "abstract": "We paste an abstract long enough to be accepted by the validator.",
        "authors": ["Grace Hopper", "Edsger Dijkstra"],
        "url": "https://example.org/paper",
    }
    assert client.post("/api/v1/submissions", json=body).status_code == 401
    r = client.post("/api/v1/submissions", json=body, headers=ada)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] is True and out["submitted_by"] == "ada" and out["id"].startswith("pf-")
    assert out["paper"]["authors"][0]["name"] == "Grace Hopper"
    assert out["paper"]["submitted_by"]["username"] == "ada"
    again = client.post("/api/v1/submissions", json=body, headers=ada)
    assert again.status_code == 200 and again.json()["created"] is False
    today = datetime.now(UTC).date().isoformat()
    daily = client.get("/api/daily_papers", params={"date": today}).json()
    assert out["id"] in [d["paper"]["id"] for d in daily]
    assert next(d for d in daily if d["paper"]["id"] == out["id"])["submittedBy"]["user"] == "ada"
    found = client.get("/api/v1/search", params={"q": "sparsifiers"}).json()
    assert [h["paper"]["id"] for h in found["data"]] == [out["id"]]  # findable at once


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "arxiv"),
        ({"arxiv": "not an id"}, "arxiv"),
        ({"title": "", "abstract": "long enough abstract text here ok", "authors": ["A"]}, "title"),
        ({"title": "T", "abstract": "short", "authors": ["A"]}, "abstract"),
        ({"title": "T", "abstract": "long enough abstract text here ok", "authors": []}, "authors"),
        (
            {"title": "T", "abstract": "long enough abstract text here ok", "authors": ["A"], "url": "javascript:x"},
            "url",
        ),
        ({"title": "x" * 2001}, "title"),
        ({"authors": "not a list"}, "authors"),
    ],
)
def test_submission_errors_name_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    r = client.post("/api/v1/submissions", json=body, headers=token_for(client, "ada"))
    assert r.status_code == 422 and field_of(r) == field


def test_submission_by_arxiv_id_offline_says_so(client: TestClient, settings: Settings) -> None:
    settings.arxiv_api_url = "http://127.0.0.1:9/api/query"  # nothing listens: like being offline
    settings.arxiv_max_retries = 0
    settings.http_timeout = 2.0
    r = client.post("/api/v1/submissions", json={"arxiv": "2405.99999"}, headers=token_for(client, "ada"))
    assert r.status_code == 422 and field_of(r) == "arxiv"
    assert "arXiv" in r.json()["error"]
    known = client.post(
        "/api/v1/submissions", json={"arxiv": "https://arxiv.org/abs/2401.00003v2"}, headers=token_for(client, "bob")
    )
    assert known.status_code == 201 and known.json()["id"] == "2401.00003"


def test_malformed_json_body_is_a_4xx(client: TestClient) -> None:
    headers = {**token_for(client, "ada"), "Content-Type": "application/json"}
    r = client.post("/api/v1/submissions", content=b"{not json", headers=headers)
    assert r.status_code == 422 and "error" in r.json()
    html_accept = {"Accept": "text/html"}  # JSON routes answer JSON whatever the Accept header says
    r = client.get("/api/v1/search", params={"q": "graph", "limit": 0}, headers=html_accept)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "limit"


def test_every_api_and_feed_route_is_documented() -> None:
    """docs/api.md names each route of the JSON API, the Markdown view and the feeds."""
    from pathlib import Path

    from paperfeed.web import api_hf, api_v1, feeds

    text = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    for module in (api_hf, api_v1, feeds):
        for route in module.router.routes:
            path = route.path.replace("{paper_id:path}", "{id}")  # type: ignore[attr-defined]
            for fmt in ("rss", "atom"):
                expected = path.replace("{fmt}", fmt)
                assert expected in text, f"{expected} is not in docs/api.md"


def test_openapi_lists_the_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/search",
        "/api/v1/papers/{paper_id}",
        "/api/v1/submissions",
        "/api/daily_papers",
        "/api/papers/search",
        "/papers/{paper_id}.md",
    ):
        assert path in paths, path
    assert client.get("/docs").status_code == 200


def test_without_search_the_rest_still_answers(client: TestClient) -> None:
    client.app.state.searcher = None  # type: ignore[attr-defined]  # e.g. the search extra failed to load
    for url in ("/api/v1/search?q=graph", "/api/papers/search?q=graph", "/api/v1/papers/2401.00001/similar"):
        r = client.get(url)
        assert r.status_code == 503 and "not available" in r.json()["error"], url
    assert client.get("/feeds/search.atom?q=graph").status_code == 503
    assert client.get("/api/v1/papers/2401.00001").status_code == 200
    assert client.get("/api/daily_papers?month=2024-01").status_code == 200
    assert client.get("/feeds/daily.atom?month=2024-01").status_code == 200


def test_concurrent_votes_are_counted_exactly(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tokens = [token_for(client, f"member{i}") for i in range(8)]
    url = "/api/v1/papers/2401.00002/vote"

    def vote_twice(headers: dict[str, str]) -> list[int]:
        return [client.post(url, headers=headers).status_code for _ in range(2)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [c for pair in pool.map(vote_twice, tokens) for c in pair]
    assert codes == [200] * 16
    assert client.get("/api/v1/papers/2401.00002").json()["upvotes"] == 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda h: client.delete(url, headers=h).status_code, tokens[:5]))
    assert client.get("/api/v1/papers/2401.00002").json()["upvotes"] == 3
