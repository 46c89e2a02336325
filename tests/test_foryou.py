"""For you: recommendations from a member's library and upvotes, with reasons, on /for-you and in digests.

Runs against the real search service (lexical similarity: no model is loaded in tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.digest.compose import build_digest
from paperfeed.models import Author, Paper
from paperfeed.rank.foryou import recommend
from paperfeed.store.api_tokens import create_api_token
from paperfeed.store.library import library_add
from paperfeed.store.sessions import create_session
from paperfeed.store.subscriptions import get_subscriber
from paperfeed.store.users import User, create_user
from paperfeed.store.votes import add_vote
from paperfeed.web.app import create_app
from paperfeed.web.security import SESSION_COOKIE
from tests.factories import create_verified_user, keyed_corpus, make_paper
from tests.searchers import indexed_searcher
from tests.smtp_server import add_active

NOW = datetime.now(UTC).replace(microsecond=0)


def _paper(title: str, abstract: str, hours_ago: float) -> Paper:
    # each paper its own author, so "same authors" never explains these recommendations
    author = Author("".join(w[0] for w in title.split()).title() + " Writer")
    return make_paper(title=title, abstract=abstract, published=NOW - timedelta(hours=hours_ago), authors=[author])


@pytest.fixture
def corpus(engine: Engine) -> dict[str, Paper]:
    return keyed_corpus(engine, "foryou", _paper)  # tests/fixtures/papers/foryou.toml


def _member(engine: Engine, corpus: dict[str, Paper], name: str = "ada") -> User:
    with engine.begin() as conn:
        user = create_user(conn=conn, email=f"{name}@example.org", username=name, password_hash="x")
        add_vote(conn=conn, user_id=user.id, paper_id=corpus["voted"].id)
        library_add(conn=conn, user_id=user.id, paper_id=corpus["saved"].id)
    return user


def test_recommendations_follow_the_library_with_reasons(
    engine: Engine, settings: Settings, corpus: dict[str, Paper]
) -> None:
    user = _member(engine, corpus)
    searcher = indexed_searcher(engine, settings)
    with engine.connect() as conn:
        recs = recommend(conn=conn, user_id=user.id, searcher=searcher, limit=10)
        assert recs.source == "lexical" and recs.seeds == 2  # no model in tests: words only
        assert corpus["saved"].id not in recs.ids and corpus["voted"].id not in recs.ids  # never the library
        assert corpus["bread"].id not in recs.ids  # nothing in common with the library
        assert {corpus["gnn_new"].id, corpus["diff_new"].id} <= set(recs.ids)
        # the writer has computed keyphrases too: the reason names the ones the paper shares with the library
        shared = "shares keywords graph neural networks"
        assert recs.reasons[corpus["gnn_new"].id] == f"similar abstract to {corpus['saved'].title}; {shared}"
        assert recs.reasons[corpus["diff_new"].id] == f"similar abstract to {corpus['voted'].title}"
        assert recs.kinds[corpus["gnn_new"].id] == "similar abstract"
        assert recs.scores == sorted(recs.scores, reverse=True)
        # only new papers when a digest asks "since"; the 60-day-old neighbour drops out
        since = recommend(conn=conn, user_id=user.id, searcher=searcher, since=NOW - timedelta(days=1))
        assert corpus["gnn_old"].id in recs.ids and corpus["gnn_old"].id not in since.ids
        assert set(since.ids) == {corpus["gnn_new"].id, corpus["diff_new"].id}
        # same input, same output
        again = recommend(conn=conn, user_id=user.id, searcher=searcher, limit=10)
        assert (again.ids, again.scores) == (recs.ids, recs.scores)


def test_without_search_or_library_there_is_nothing_and_it_says_why(
    engine: Engine, settings: Settings, corpus: dict[str, Paper]
) -> None:
    user = _member(engine, corpus)
    with engine.begin() as conn:
        empty = create_user(conn=conn, email="new@example.org", username="newbie", password_hash="x")
    with engine.connect() as conn:
        none = recommend(conn=conn, user_id=user.id, searcher=None)
        assert (none.ids, none.source, none.seeds) == ([], "none", 2)
        nothing = recommend(conn=conn, user_id=empty.id, searcher=indexed_searcher(engine, settings))
        assert (nothing.ids, nothing.seeds) == ([], 0)


def _signed_in(client: TestClient, engine: Engine, user: User) -> TestClient:
    with engine.begin() as conn:
        client.cookies.set(SESSION_COOKIE, create_session(conn=conn, user_id=user.id))
    return client


def test_for_you_page(settings: Settings, corpus: dict[str, Paper]) -> None:
    client = TestClient(create_app(settings))
    r = client.get("/for-you", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    _signed_in(client, engine, _member(engine, corpus))
    page = client.get("/for-you")
    assert page.status_code == 200
    assert corpus["gnn_new"].title in page.text and corpus["bread"].title not in page.text
    assert f"similar abstract to {corpus['saved'].title}" in page.text
    [item] = [li for li in page.text.split("<li ") if corpus["gnn_new"].title in li]
    assert f"similar abstract to {corpus['saved'].title}" in item  # each card says why it is there
    assert "Not interested" in item

    client.app.state.searcher = None  # type: ignore[attr-defined]  # a build without search
    degraded = client.get("/for-you")
    assert degraded.status_code == 200 and "Recommendations are not available" in degraded.text


def test_for_you_page_for_a_member_without_a_library(settings: Settings, corpus: dict[str, Paper]) -> None:
    client = TestClient(create_app(settings))
    client.get("/for-you", follow_redirects=False)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        user = create_user(conn=conn, email="bo@example.org", username="bo", password_hash="x")
    page = _signed_in(client, engine, user).get("/for-you")
    assert page.status_code == 200 and "Nothing to go on yet" in page.text


def test_digest_has_a_for_you_section_after_trending_and_topics(
    engine: Engine, settings: Settings, corpus: dict[str, Paper]
) -> None:
    user = _member(engine, corpus)
    with engine.begin() as conn:  # diff_new is trending: it is listed there, not again under "For you"
        voter = create_verified_user(conn=conn, email="v@example.org", username="v", password_hash="x")
        add_vote(conn=conn, user_id=voter.id, paper_id=corpus["diff_new"].id)
    sid = add_active(engine, "ada@example.org", for_you=True, topics=["sourdough"])
    searcher = indexed_searcher(engine, settings)
    with engine.connect() as conn:
        sub = get_subscriber(conn=conn, subscriber_id=sid)
        assert sub is not None
        sub.user_id = user.id
        digest = build_digest(conn=conn, searcher=searcher, subscriber=sub, now=NOW)
    sections = [(s.kind, [i.paper.id for i in s.items], [i.reason for i in s.items]) for s in digest.sections]
    assert sections == [
        ("trending", [corpus["diff_new"].id], [""]),
        ("topic", [corpus["bread"].id], ["matches sourdough"]),
        (
            "for_you",
            [corpus["gnn_new"].id],
            [f"similar abstract to {corpus['saved'].title}; shares keywords graph neural networks"],
        ),
    ]


def test_for_you_api_needs_a_token_and_gives_reasons(settings: Settings, corpus: dict[str, Paper]) -> None:
    client = TestClient(create_app(settings))
    assert client.get("/api/v1/for-you").status_code == 401
    engine = client.app.state.engine  # type: ignore[attr-defined]
    user = _member(engine, corpus)
    with engine.begin() as conn:
        token = create_api_token(conn=conn, user_id=user.id, name="test")
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/for-you", params={"limit": 2}, headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["source"] == "lexical" and body["library_size"] == 2 and body["count"] == 2
    assert all(item["reason"] == "similar abstract" for item in body["data"])
    assert all(item["explanation"].startswith("similar abstract to ") for item in body["data"])
    assert {item["because"] for item in body["data"]} <= {corpus["saved"].id, corpus["voted"].id}
    assert body["data"][0]["paper"]["links"]["page"].startswith("http://testserver/papers/")
    assert client.get("/api/v1/for-you", params={"limit": 0}, headers=auth).status_code == 422
    client.app.state.searcher = None  # type: ignore[attr-defined]
    none = client.get("/api/v1/for-you", headers=auth).json()
    assert (none["data"], none["source"]) == ([], "none")
