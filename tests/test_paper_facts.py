"""One loader for what cards, API answers and feeds show beyond a paper's row (store/paper_facts.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from paperfeed.store.citations import WorkRecord, store_works
from paperfeed.store.claims import add_claim, decide_claim
from paperfeed.store.comments import add_comment, set_hidden
from paperfeed.store.keywords import store_keywords
from paperfeed.store.library import library_add
from paperfeed.store.paper_facts import PaperFacts, paper_facts
from paperfeed.store.papers import upsert_papers
from paperfeed.store.submissions import add_submission
from paperfeed.store.users import create_user
from paperfeed.store.votes import add_vote
from tests.factories import create_verified_user, make_paper

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def test_facts_of_a_page_of_papers(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id=f"2401.0000{i}", title=f"Paper {i}") for i in (1, 2, 3)])
        ada = create_verified_user(conn=conn, email="ada@example.org", username="ada", password_hash="x")
        bob = create_verified_user(conn=conn, email="bob@example.org", username="bob", password_hash="x")
        ghost = create_user(conn=conn, email="ghost@example.org", username="ghost", password_hash="x")
        for u in (ada, bob, ghost):  # the unverified member's vote does not count
            add_vote(conn=conn, user_id=u.id, paper_id="2401.00001")
        add_vote(conn=conn, user_id=bob.id, paper_id="2401.00002")
        shown = add_comment(conn=conn, paper_id="2401.00001", user_id=ada.id, body="nice", parent_id=None)
        hidden = add_comment(conn=conn, paper_id="2401.00001", user_id=bob.id, body="spam", parent_id=None)
        add_comment(conn=conn, paper_id="2401.00001", user_id=bob.id, body="agreed", parent_id=shown)
        set_hidden(conn=conn, comment_id=hidden, by=ada.id)
        store_keywords(conn=conn, found={"2401.00002": ["graph neural networks"]}, now=NOW)
        store_works(conn=conn, works=[WorkRecord("W1", paper_id="2401.00003", cited_by_count=42)], fetched_at=NOW)
        add_submission(conn=conn, paper_id="2401.00002", user_id=bob.id, when=NOW)
        library_add(conn=conn, user_id=ada.id, paper_id="2401.00003")
        add_claim(conn=conn, paper_id="2401.00003", user_id=bob.id, author_name="Ada Lovelace", now=NOW)
        decide_claim(conn=conn, claim_id=1, status="approved", moderator_id=ada.id, now=NOW)

    ids = ["2401.00003", "2401.00001", "2401.00002", "9999.99999"]
    with engine.connect() as conn:
        anyone = paper_facts(conn, ids)
        as_ada = paper_facts(conn, ids, ada.id)

    assert list(anyone) == ids and anyone["9999.99999"] == PaperFacts()  # unknown ids: nothing to show
    one, two, three = anyone["2401.00001"], anyone["2401.00002"], anyone["2401.00003"]
    assert (one.upvotes, one.comments, one.keywords) == (2, 2, [])  # hidden comment left out, reply counted
    assert (two.upvotes, two.keywords, two.submitted_at, two.daily_date) == (
        1,
        ["graph neural networks"],
        NOW,
        NOW.date(),
    )
    assert two.submitted_by is not None and two.submitted_by.username == "bob"
    assert (three.cited_by, three.verified, one.cited_by) == (42, {"Ada Lovelace": "bob"}, None)
    assert not any(f.voted or f.saved for f in anyone.values())  # no viewer: nothing is marked
    assert {i for i, f in as_ada.items() if f.voted} == {"2401.00001"}
    assert {i for i, f in as_ada.items() if f.saved} == {"2401.00003"}
    assert as_ada["2401.00001"].upvotes == 2


def test_no_ids_no_facts(engine: Engine) -> None:
    with engine.connect() as conn:
        assert paper_facts(conn, []) == {} and paper_facts(conn, [], 1) == {}
