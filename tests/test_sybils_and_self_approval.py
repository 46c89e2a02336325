"""Sybils and self-approval (issue 21, item 5): only members with a verified email address vote, comment,
submit and claim, and only their votes count; a moderator never decides their own claim, and the claims
queue shows what the claimant submitted under the claimed name. (Sign-ups per address: see
``tests/test_limits_under_concurrency.py::test_parallel_sign_ups_from_one_address_are_limited``.)
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.models import Author
from paperfeed.store.claims import claims_for_paper
from paperfeed.store.submissions import add_submission
from paperfeed.store.votes import add_vote
from tests.community_helpers import csrf_of, member, sign_in
from tests.factories import add_papers, make_paper, site_client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    recent = datetime.now(UTC) - timedelta(hours=3)
    papers = [
        make_paper(id="2405.00001", title="A real result", published=recent),
        make_paper(id="2405.00002", title="A fake paper pushed by sock puppets", published=recent),
        make_paper(id="2405.00003", title="Ada's paper", authors=[Author("Ada Lovelace")], published=recent),
    ]
    with site_client(settings, papers) as c:
        yield c


def _engine(client: TestClient) -> Engine:
    return client.app.state.engine  # type: ignore[attr-defined,no-any-return]


def test_unverified_votes_do_not_count_anywhere(client: TestClient) -> None:
    """25 votes of unverified accounts (stored before the rule, or straight in the store) move nothing: the
    paper shows 0 upvotes and is not on the trending page; two verified votes put the real paper on top."""
    engine = _engine(client)
    sybils = [member(engine, f"sybil{i}", verified=False)[0] for i in range(25)]
    with engine.begin() as conn:
        for sybil in sybils:
            add_vote(conn=conn, user_id=sybil.id, paper_id="2405.00002")
    for name in ("ada", "bob"):
        user, _ = member(engine, name)
        with engine.begin() as conn:
            add_vote(conn=conn, user_id=user.id, paper_id="2405.00001")
    assert client.get("/api/v1/papers/2405.00002").json()["upvotes"] == 0
    assert client.get("/api/v1/papers/2405.00001").json()["upvotes"] == 2
    trending = client.get("/trending").text
    assert "A real result" in trending
    assert "sock puppets" not in trending


def test_an_unverified_member_cannot_vote_comment_submit_or_claim(client: TestClient) -> None:
    """API answers 403 saying how to verify; the pages explain it with a link to the account page, and
    nothing is stored."""
    engine = _engine(client)
    _, auth = member(engine, "eve", verified=False)
    for path, body in [
        ("/api/v1/papers/2405.00001/vote", None),
        ("/api/v1/papers/2405.00001/comments", {"body": "first!"}),
        ("/api/v1/submissions", {"arxiv": "2405.00001"}),
    ]:
        r = client.post(path, json=body, headers=auth)
        assert r.status_code == 403, (path, r.text)
        assert "verify your email address first" in r.json()["error"]
    assert client.get("/api/v1/papers/2405.00001/comments").json()["data"] == []

    token = sign_in(client, "eve")
    page = client.get("/papers/2405.00001").text
    assert "Only members with a verified email address can comment, vote and claim authorship" in page
    assert 'href="/account">Verify your address</a>' in page
    assert 'class="comment-form"' not in page and "I am this author" not in page
    for path, form in [
        ("/papers/2405.00001/vote", {"action": "up"}),
        ("/papers/2405.00001/comments", {"body": "first!"}),
        ("/papers/2405.00003/claim", {"author": "Ada Lovelace"}),
    ]:
        r = client.post(path, data={**form, "csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403, path
        assert "Only members with a verified email address can vote, comment" in r.text
        assert 'href="/account"' in r.text
    assert client.get("/api/v1/papers/2405.00001").json()["upvotes"] == 0
    with engine.connect() as conn:
        assert claims_for_paper(conn=conn, paper_id="2405.00003") == []


def test_a_verified_member_votes_and_comments(client: TestClient) -> None:
    engine = _engine(client)
    _, auth = member(engine, "ada")
    assert client.post("/api/v1/papers/2405.00001/vote", headers=auth).json()["upvotes"] == 1
    assert client.post("/api/v1/papers/2405.00001/comments", json={"body": "Nice."}, headers=auth).status_code == 201


def test_a_moderator_cannot_approve_their_own_claim(client: TestClient) -> None:
    engine = _engine(client)
    member(engine, "mod", role="moderator")
    member(engine, "other", role="moderator")
    token = sign_in(client, "mod")
    claimed = client.post("/papers/2405.00003/claim", data={"author": "Ada Lovelace", "csrf_token": token})
    assert claimed.status_code == 200
    queue = client.get("/moderation/claims").text
    assert "Your own claim: another moderator decides it." in queue
    assert "/approve" not in queue
    with engine.connect() as conn:
        (claim,) = claims_for_paper(conn=conn, paper_id="2405.00003")
    r = client.post(f"/moderation/claims/{claim.id}/approve", data={"csrf_token": csrf_of(queue)})
    assert r.status_code == 403 and "cannot decide your own claim" in r.text
    with engine.connect() as conn:
        assert claims_for_paper(conn=conn, paper_id="2405.00003")[0].status == "pending"

    client.post("/logout", data={"csrf_token": csrf_of(queue)})
    client.cookies.clear()
    token = sign_in(client, "other")
    queue = client.get("/moderation/claims").text
    client.post(f"/moderation/claims/{claim.id}/approve", data={"csrf_token": csrf_of(queue)})
    with engine.connect() as conn:
        assert claims_for_paper(conn=conn, paper_id="2405.00003")[0].status == "approved"


def test_the_claims_queue_shows_the_claimants_own_submissions_of_that_author(client: TestClient) -> None:
    """A member who submitted a paper listing "Ada Lovelace" and then claims to be her: the moderator sees
    that submission next to the claim; another claimant's entry shows none."""
    engine = _engine(client)
    mallory, _ = member(engine, "mallory")
    member(engine, "mod", role="moderator")
    with engine.begin() as conn:
        add_submission(conn=conn, paper_id="2405.00003", user_id=mallory.id)
    token = sign_in(client, "mallory")
    add_papers(engine, [make_paper(id="2405.00009", title="Another Lovelace paper", authors=[Author("Ada Lovelace")])])
    client.post("/papers/2405.00009/claim", data={"author": "Ada Lovelace", "csrf_token": token})
    client.post("/logout", data={"csrf_token": token})
    client.cookies.clear()
    sign_in(client, "mod")
    queue = html.unescape(client.get("/moderation/claims").text)
    entry = re.search(r'<li class="claim-item".*?</li>\s*</ul>', queue, re.S)
    assert entry is not None, queue
    assert "@mallory submitted 1 paper with Ada Lovelace among the authors" in entry.group(0)
    assert "Ada's paper" in entry.group(0)
