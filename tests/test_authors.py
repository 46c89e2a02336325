"""Author pages, the authors API, name grouping (shared with author: search), claims and profiles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from paperfeed.authors import author_key, group_keys
from paperfeed.config import Settings
from paperfeed.models import Author
from paperfeed.store.papers import upsert_papers
from tests.community_helpers import csrf_of, member, sign_in
from tests.factories import corpus, make_paper, site_client


def _day(d: int) -> datetime:
    return datetime(2024, 3, d, 12, tzinfo=UTC)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with site_client(settings, corpus("authors")) as c:  # tests/fixtures/papers/authors.toml
        engine = c.app.state.engine  # type: ignore[attr-defined]
        member(engine, "yann")
        member(engine, "moe", "moderator")
        yield c


def test_names_are_grouped_by_case_accents_whitespace_and_unambiguous_initials() -> None:
    assert author_key("Léon  Bottou") == author_key("leon bottou") == "leon bottou"
    assert group_keys("y lecun", ["yann lecun", "y lecun"]) == ["y lecun", "yann lecun"]
    assert group_keys("y lecun", ["yann lecun", "yves lecun"]) == ["y lecun"]  # ambiguous: kept apart


def test_author_page_lists_papers_newest_first_with_coauthors_and_upvotes(client: TestClient) -> None:
    page = client.get("/authors/Yann%20LeCun")
    assert page.status_code == 200
    titles = re.findall(r'<h3><a href="/papers/[^"]+">([^<]+)</a></h3>', page.text)
    assert titles == ["Newer energy models", "Shouting names", "Old convolutional work"]
    assert "3 papers" in page.text and "0 upvotes" in page.text
    coauthors = re.findall(r'<li><a href="/authors/[^"]+">([^<]+)</a> <span class="muted">(\d+)</span>', page.text)
    assert ("Léon Bottou", "2") in coauthors or ("Leon Bottou", "2") in coauthors
    assert "Grace Hopper" not in page.text


def test_author_api_answers_name_papers_coauthors_and_404(client: TestClient) -> None:
    body = client.get("/api/v1/authors/yann lecun").json()
    assert body["name"] in ("Yann LeCun", "YANN   LECUN")
    assert [p["id"] for p in body["papers"]] == ["2403.00002", "2403.00003", "2403.00001"]
    assert {c["name"] for c in body["coauthors"]} >= {"Ada Lovelace"}
    missing = client.get("/api/v1/authors/Nobody%20Here")
    assert missing.status_code == 404 and "Nobody Here" in missing.json()["detail"]
    assert "/api/v1/authors/{name}" in client.get("/openapi.json").json()["paths"]


def test_author_names_on_cards_and_paper_pages_link_to_author_pages(client: TestClient) -> None:
    paper = client.get("/papers/2403.00001").text
    assert '<a class="author" href="/authors/Yann%20LeCun">Yann LeCun</a>' in paper
    assert 'href="/search?q=author' not in paper.split('class="authors"')[1].split("</div>")[0]


def test_author_search_uses_the_same_normalisation(client: TestClient) -> None:
    found = client.get("/api/v1/search", params={"q": 'author:"LÉON bottou"'}).json()["data"]
    ids = [h["paper"]["id"] for h in found]
    assert sorted(ids) == ["2403.00001", "2403.00003"]


def test_claim_approve_verified_mark_and_profile(client: TestClient) -> None:
    token = sign_in(client, "yann")
    r = client.post(
        "/papers/2403.00001/claim", data={"author": "Yann LeCun", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert "waiting for a moderator" in client.get("/papers/2403.00001").text
    again = client.post("/papers/2403.00001/claim", data={"author": "Yann LeCun", "csrf_token": token})
    assert again.status_code == 409
    assert client.get("/moderation/claims").status_code == 403
    client.post("/logout", data={"csrf_token": token})
    client.cookies.clear()
    token = sign_in(client, "moe")
    queue = client.get("/moderation/claims").text
    claim_id = re.search(r'action="/moderation/claims/(\d+)/approve"', queue).group(1)  # type: ignore[union-attr]
    assert "@yann" in queue and "Yann LeCun" in queue
    client.post(f"/moderation/claims/{claim_id}/approve", data={"csrf_token": csrf_of(queue)})
    assert "No claims are waiting" in client.get("/moderation/claims").text
    paper = client.get("/papers/2403.00001").text
    assert 'class="verified" href="/u/yann"' in paper
    assert 'class="verified" href="/u/yann"' in client.get("/authors/Yann%20LeCun").text
    profile = client.get("/u/yann").text
    assert "Old convolutional work" in profile.split('id="claimed-h"')[1].split('id="submitted-h"')[0]
    assert client.get("/u/nobody").status_code == 404


def test_claiming_a_name_not_on_the_paper_is_refused(client: TestClient) -> None:
    token = sign_in(client, "yann")
    r = client.post("/papers/2403.00004/claim", data={"author": "Yann LeCun", "csrf_token": token})
    assert r.status_code == 400


def test_author_search_groups_unambiguous_initials_both_ways(client: TestClient) -> None:
    def ids(q: str) -> list[str]:
        data = client.get("/api/v1/search", params={"q": q, "mode": "bm25"}).json()["data"]
        return sorted(h["paper"]["id"] for h in data)

    everyone = ["2403.00001", "2403.00002", "2403.00003"]
    assert ids('author:"Yann LeCun"') == everyone  # "Y. LeCun" is the only LeCun with a Y: the same person
    assert ids('author:"Y. LeCun"') == everyone


def test_ambiguous_initials_stay_apart_in_author_search(client: TestClient) -> None:
    with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        upsert_papers(
            conn=conn,
            papers_in=[
                make_paper(id="2403.00005", title="Yet another", published=_day(3), authors=[Author("Yves LeCun")])
            ],
        )
    found = client.get("/api/v1/search", params={"q": 'author:"Y. LeCun"', "mode": "bm25"}).json()["data"]
    assert [h["paper"]["id"] for h in found] == ["2403.00002"]  # Yann or Yves: no guess


def test_the_authors_index_lists_most_papers_first_and_filters_by_name(client: TestClient) -> None:
    page = client.get("/authors")  # was a 400 "name: String should have at least 1 character"
    assert page.status_code == 200
    rows = re.findall(r'<li><a href="/authors/([^"]+)">([^<]+)</a> <span class="muted">(\d+) papers?</span>', page.text)
    names = [(name, int(n)) for _, name, n in rows]
    # most papers first, then by name; each name as its papers write it (ties: the accented, mixed-case form)
    assert names == [("Léon Bottou", 2), ("Yann LeCun", 2), ("Ada Lovelace", 1), ("Grace Hopper", 1), ("Y. LeCun", 1)]
    assert 'id="author-filter"' in page.text and "5 authors, most papers first" in page.text
    assert client.get("/authors/").status_code == 200
    api = client.get("/api/v1/authors", params={"q": "hopp"}).json()
    assert api == {"data": [{"name": "Grace Hopper", "papers": 1, "url": "/authors/Grace%20Hopper"}], "count": 1}
    filtered = client.get("/authors", params={"q": "lecun"}).text
    assert "Grace Hopper" not in filtered and "Yann LeCun" in filtered
    none = client.get("/authors", params={"q": "nobody at all"}).text
    assert "No author's name holds" in none and 'href="/authors">show every author' in none
