"""Accounts store: users, sessions, API tokens, exact concurrent upvotes, library and submissions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed.community.votes import VoteOutcome, cast_vote
from paperfeed.store.account_errors import AccountError
from paperfeed.store.api_tokens import (
    api_tokens,
    create_api_token,
    get_user_by_api_token,
    list_api_tokens,
    revoke_api_token,
)
from paperfeed.store.library import (
    collections_for_user,
    create_collection,
    delete_collection,
    library_add,
    library_list,
    library_remove,
    paper_collections,
    saved_ids,
)
from paperfeed.store.papers import upsert_papers
from paperfeed.store.sessions import create_session, delete_session, get_session_user, sessions
from paperfeed.store.submissions import add_submission, get_submission, submissions_by
from paperfeed.store.users import User, UserPublic, create_user, get_user_by_email, get_user_by_username
from paperfeed.store.votes import add_vote, remove_vote, user_votes, vote_counts
from tests.factories import create_verified_user, make_paper


def _user(engine: Engine, name: str = "ada") -> User:
    with engine.begin() as conn:
        return create_verified_user(conn=conn, email=f"{name.upper()}@Example.org", username=name, password_hash="x")


def _papers(engine: Engine, *ids: str) -> None:
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id=i) for i in ids])


def test_users_are_unique_by_lowercased_email_and_username(engine: Engine) -> None:
    user = _user(engine)
    assert user.email == "ada@example.org" and user.display_name == "ada"
    with engine.begin() as conn:
        assert get_user_by_email(conn=conn, email=" ADA@example.ORG ").id == user.id  # type: ignore[union-attr]
        assert get_user_by_username(conn=conn, username="ADA").id == user.id  # type: ignore[union-attr]
        with pytest.raises(AccountError) as err:
            create_user(conn=conn, email="ada@EXAMPLE.org", username="other", password_hash="x")
        assert err.value.field == "email"
        with pytest.raises(AccountError) as err:
            create_user(conn=conn, email="b@example.org", username="Ada", password_hash="x")
        assert err.value.field == "username"
        assert [c.name for c in collections_for_user(conn=conn, user_id=user.id)] == ["Saved"]


def test_sessions_expire_and_are_stored_hashed(engine: Engine) -> None:
    user = _user(engine)
    with engine.begin() as conn:
        token = create_session(conn=conn, user_id=user.id, ttl=timedelta(hours=1))
        stored = conn.execute(sessions.select()).first()
    assert stored is not None and stored.token_hash != token and token not in stored.token_hash
    with engine.connect() as conn:
        assert get_session_user(conn=conn, token=token).username == "ada"  # type: ignore[union-attr]
        later = datetime.now(UTC) + timedelta(hours=2)
        assert get_session_user(conn=conn, token=token, now=later) is None
        assert get_session_user(conn=conn, token="forged") is None
    with engine.begin() as conn:
        delete_session(conn=conn, token=token)
        assert get_session_user(conn=conn, token=token) is None


def test_api_tokens_are_shown_once_and_revocable(engine: Engine) -> None:
    user = _user(engine)
    with engine.begin() as conn:
        token = create_api_token(conn=conn, user_id=user.id, name="laptop")
        assert token.startswith("pf_")
        assert get_user_by_api_token(conn=conn, token=token).id == user.id  # type: ignore[union-attr]
        (listed,) = list_api_tokens(conn=conn, user_id=user.id)
        assert listed.name == "laptop" and listed.last_used_at is not None
        assert token not in str(conn.execute(api_tokens.select()).all())
        assert revoke_api_token(conn=conn, user_id=user.id, token_id=listed.id)
        assert get_user_by_api_token(conn=conn, token=token) is None


def test_one_vote_per_member_and_unvote(engine: Engine) -> None:
    _papers(engine, "2401.10001", "2401.10002")
    ada, bob = _user(engine, "ada"), _user(engine, "bob")
    with engine.begin() as conn:
        assert add_vote(conn=conn, user_id=ada.id, paper_id="2401.10001") is True
        assert add_vote(conn=conn, user_id=ada.id, paper_id="2401.10001") is False
        assert add_vote(conn=conn, user_id=bob.id, paper_id="2401.10001") is True
        counts = vote_counts(conn=conn, ids=["2401.10001", "2401.10002"])
        assert counts == {"2401.10001": 2, "2401.10002": 0}
        assert user_votes(conn=conn, user_id=ada.id, ids=["2401.10001", "2401.10002"]) == {"2401.10001"}
        assert remove_vote(conn=conn, user_id=ada.id, paper_id="2401.10001") is True
        assert remove_vote(conn=conn, user_id=ada.id, paper_id="2401.10001") is False
        assert vote_counts(conn=conn, ids=["2401.10001"]) == {"2401.10001": 1}


def test_cast_vote_follows_old_ids_and_counts_after_the_vote(engine: Engine) -> None:
    """The one way the paper page and the API vote: the paper's current id, its count, the member's vote."""
    _papers(engine, "2401.10001")
    ada, bob = _user(engine, "ada"), _user(engine, "bob")
    up = cast_vote(engine=engine, user_id=ada.id, paper_id="2401.10001v2", up=True)
    assert up == VoteOutcome("2401.10001", 1, True)
    assert cast_vote(engine=engine, user_id=bob.id, paper_id="2401.10001", up=True) == VoteOutcome(
        "2401.10001", 2, True
    )
    assert cast_vote(engine=engine, user_id=ada.id, paper_id="2401.10001", up=False) == VoteOutcome(
        "2401.10001", 1, False
    )
    assert cast_vote(engine=engine, user_id=ada.id, paper_id="9999.99999", up=True) is None
    assert cast_vote(engine=engine, user_id=ada.id, paper_id="x" * 300, up=True) is None


def test_concurrent_votes_are_counted_exactly(engine: Engine) -> None:
    _papers(engine, "2401.20001")
    members = [_user(engine, f"user{i}") for i in range(12)]
    # every member votes three times at once, from different threads and connections
    attempts = [m.id for m in members for _ in range(3)]

    def vote(user_id: int) -> bool:
        with engine.begin() as conn:
            return add_vote(conn=conn, user_id=user_id, paper_id="2401.20001")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(vote, attempts))
    assert sum(results) == 12
    with engine.connect() as conn:
        assert vote_counts(conn=conn, ids=["2401.20001"]) == {"2401.20001": 12}


def test_library_collections(engine: Engine) -> None:
    _papers(engine, "2401.30001", "2401.30002", "2401.30003")
    ada, bob = _user(engine, "ada"), _user(engine, "bob")
    with engine.begin() as conn:
        assert library_add(conn=conn, user_id=ada.id, paper_id="2401.30001")
        assert not library_add(conn=conn, user_id=ada.id, paper_id="2401.30001")
        reading = create_collection(conn=conn, user_id=ada.id, name="  Reading   group ")
        assert reading.name == "Reading group"
        with pytest.raises(AccountError):
            create_collection(conn=conn, user_id=ada.id, name="Reading group")
        assert library_add(conn=conn, user_id=ada.id, paper_id="2401.30002", collection_id=reading.id)
        assert library_add(conn=conn, user_id=ada.id, paper_id="2401.30001", collection_id=reading.id)
        # bob cannot put papers in ada's collection
        assert not library_add(conn=conn, user_id=bob.id, paper_id="2401.30003", collection_id=reading.id)
        assert set(library_list(conn=conn, user_id=ada.id)) == {"2401.30001", "2401.30002"}
        assert library_list(conn=conn, user_id=ada.id, collection_id=reading.id)[0] in {"2401.30001", "2401.30002"}
        counts = {c.name: c.count for c in collections_for_user(conn=conn, user_id=ada.id)}
        assert counts == {"Saved": 1, "Reading group": 2}
        assert saved_ids(conn=conn, user_id=ada.id, ids=["2401.30002", "2401.30003"]) == {"2401.30002"}
        saved = collections_for_user(conn=conn, user_id=ada.id)[0]
        assert paper_collections(conn=conn, user_id=ada.id, paper_id="2401.30001") == {saved.id, reading.id}
        assert paper_collections(conn=conn, user_id=bob.id, paper_id="2401.30001") == set()
        assert library_remove(conn=conn, user_id=ada.id, paper_id="2401.30001")  # from every collection
        assert library_list(conn=conn, user_id=ada.id) == ["2401.30002"]
        assert library_list(conn=conn, user_id=bob.id) == []
        assert delete_collection(conn=conn, user_id=ada.id, collection_id=reading.id)
        default = collections_for_user(conn=conn, user_id=ada.id)[0]
        assert not delete_collection(conn=conn, user_id=ada.id, collection_id=default.id)


def test_submissions_first_submitter_wins(engine: Engine) -> None:
    _papers(engine, "2401.40001")
    ada, bob = _user(engine, "ada"), _user(engine, "bob")
    when = datetime(2024, 2, 1, 23, 30, tzinfo=UTC)
    with engine.begin() as conn:
        assert add_submission(conn=conn, paper_id="2401.40001", user_id=ada.id, when=when)
        assert not add_submission(conn=conn, paper_id="2401.40001", user_id=bob.id)
        (sub,) = submissions_by(conn=conn, user_id=ada.id)
        assert sub.daily_date == date(2024, 2, 1) and sub.submitted_at == when
        assert submissions_by(conn=conn, user_id=bob.id) == []
        found = get_submission(conn=conn, paper_id="2401.40001")
        assert found is not None and found[1] == UserPublic("ada", "ada")


def test_deleting_a_paper_removes_its_votes_and_library_entries(engine: Engine) -> None:
    from sqlalchemy import delete

    from paperfeed.store.schema import papers

    _papers(engine, "2401.50001")
    ada = _user(engine)
    with engine.begin() as conn:
        add_vote(conn=conn, user_id=ada.id, paper_id="2401.50001")
        library_add(conn=conn, user_id=ada.id, paper_id="2401.50001")
        conn.execute(delete(papers).where(papers.c.id == "2401.50001"))
        assert vote_counts(conn=conn, ids=["2401.50001"]) == {"2401.50001": 0}
        assert library_list(conn=conn, user_id=ada.id) == []
