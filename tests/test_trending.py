"""Trending: HN-style gravity on upvotes, windows, deterministic ties, exact expected orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from paperfeed.rank.trending import GRAVITY, OFFSET_HOURS, gravity_score, score_papers, trending
from paperfeed.rank.trending import WINDOWS as T_WINDOWS
from paperfeed.store.papers import upsert_papers
from paperfeed.store.submissions import add_submission
from paperfeed.store.votes import add_vote
from tests.factories import create_verified_user, make_paper

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def _setup(engine: Engine, papers: dict[str, tuple[float, int]], submitted: dict[str, float] | None = None) -> None:
    """``papers``: id -> (hours before NOW it was published, upvotes). ``submitted``: id -> hours ago."""
    voters = max((n for _, n in papers.values()), default=0)
    with engine.begin() as conn:
        upsert_papers(
            conn=conn,
            papers_in=[make_paper(id=pid, published=NOW - timedelta(hours=h)) for pid, (h, _) in papers.items()],
        )
        users = [
            create_verified_user(conn=conn, email=f"u{i}@example.org", username=f"u{i}", password_hash="x")
            for i in range(voters)
        ]
        for pid, (_, n) in papers.items():
            for u in users[:n]:
                add_vote(conn=conn, user_id=u.id, paper_id=pid)
        for pid, hours in (submitted or {}).items():
            add_submission(conn=conn, paper_id=pid, user_id=users[0].id, when=NOW - timedelta(hours=hours))


def test_score_formula() -> None:
    assert (GRAVITY, OFFSET_HOURS) == (1.8, 2.0)
    assert gravity_score(3, 1.0) == pytest.approx(3 / 3**1.8)
    assert gravity_score(0, 1.0) == 0.0
    assert gravity_score(5, -3.0) == pytest.approx(5 / 2**1.8)  # entries "from the future" count as now


def test_exact_order_and_windows(engine: Engine) -> None:
    _setup(
        engine,
        {
            "2403.00001": (1, 3),  # 3 / 3^1.8   = 0.4155
            "2403.00004": (1, 3),  # same score and votes and age: tie broken by id
            "2403.00005": (3, 4),  # 4 / 5^1.8   = 0.2209
            "2403.00002": (10, 10),  # 10 / 12^1.8 = 0.1139
            "2403.00003": (30, 5),  # 5 / 32^1.8  = 0.0098 (outside "day")
            "2403.00006": (24 * 20, 50),  # 20 days old: only in "month" and "all"
            "2403.00007": (2, 0),  # no votes: never trending
        },
    )
    with engine.connect() as conn:
        day, scores = trending(conn=conn, window="day", now=NOW)
        assert day == ["2403.00001", "2403.00004", "2403.00005", "2403.00002"]
        assert scores[0] == pytest.approx(3 / 3**1.8) and scores == sorted(scores, reverse=True)
        week, _ = trending(conn=conn, window="week", now=NOW)
        assert week == day + ["2403.00003"]
        month, _ = trending(conn=conn, window="month", now=NOW)
        assert month == week + ["2403.00006"]
        assert trending(conn=conn, window="all", now=NOW)[0] == month
        page, _ = trending(conn=conn, window="week", now=NOW, offset=1, limit=2)
        assert page == ["2403.00004", "2403.00005"]
        with pytest.raises(ValueError, match="day, week, month, all"):
            trending(conn=conn, window="year", now=NOW)


def test_exact_ties_are_broken_by_id(engine: Engine) -> None:
    # same age and votes: equal score, upvotes and entry time, so the id decides, the same way every time
    _setup(engine, {"2403.00020": (5, 2), "2403.00010": (5, 2)})
    with engine.connect() as conn:
        first = trending(conn=conn, window="day", now=NOW)[0]
        assert first == ["2403.00010", "2403.00020"] == trending(conn=conn, window="day", now=NOW)[0]


def test_entry_time_is_the_submission_when_a_member_submitted(engine: Engine) -> None:
    # an old paper submitted two hours ago enters the daily list now, so it is trending today
    _setup(engine, {"2403.00030": (24 * 40, 2), "2403.00031": (5, 2)}, submitted={"2403.00030": 2})
    with engine.connect() as conn:
        ids, scores = trending(conn=conn, window="day", now=NOW)
        assert ids == ["2403.00030", "2403.00031"]
        assert scores[0] == pytest.approx(2 / 4**1.8)


def test_more_votes_move_a_paper_up(engine: Engine) -> None:
    _setup(engine, {"2403.00040": (2, 1), "2403.00041": (2, 2)})
    with engine.connect() as conn:
        assert trending(conn=conn, window="day", now=NOW)[0] == ["2403.00041", "2403.00040"]
    with engine.begin() as conn:
        extra = [
            create_verified_user(conn=conn, email=f"x{i}@example.org", username=f"x{i}", password_hash="x")
            for i in range(2)
        ]
        for u in extra:
            add_vote(conn=conn, user_id=u.id, paper_id="2403.00040")
    with engine.connect() as conn:
        assert trending(conn=conn, window="day", now=NOW)[0] == ["2403.00040", "2403.00041"]


def test_score_papers_for_search_sort(engine: Engine) -> None:
    _setup(engine, {"2403.00050": (1, 3), "2403.00051": (1, 0)})
    with engine.connect() as conn:
        scores = score_papers(conn=conn, ids=["2403.00050", "2403.00051", "unknown"], now=NOW)
    assert scores == {"2403.00050": pytest.approx(3 / 3**1.8), "2403.00051": 0.0, "unknown": 0.0}


def test_slow_live_windows_are_cached_briefly_and_explicit_times_never(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paperfeed.rank.trending as T

    recent = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as conn:
        upsert_papers(
            conn=conn,
            papers_in=[make_paper(id="2403.00060", published=recent), make_paper(id="2403.00061", published=recent)],
        )
        u = create_verified_user(conn=conn, email="c@example.org", username="c", password_hash="x")
        add_vote(conn=conn, user_id=u.id, paper_id="2403.00060")
    with engine.connect() as conn:  # fast query: not cached, so a new vote shows at once
        assert trending(conn=conn, window="day")[0] == ["2403.00060"]
    monkeypatch.setattr(T, "SLOW_S", 0.0)  # pretend the query is slow (a big store)
    with engine.connect() as conn:
        assert trending(conn=conn, window="day")[0] == ["2403.00060"]
    with engine.begin() as conn:
        add_vote(conn=conn, user_id=u.id, paper_id="2403.00061")
    with engine.connect() as conn:
        assert trending(conn=conn, window="day")[0] == ["2403.00060"]  # served from the cache
        assert trending(conn=conn, window="day", now=datetime.now(UTC))[0] == ["2403.00060", "2403.00061"]
    monkeypatch.setattr(T, "CACHE_TTL_S", 0.0)
    with engine.connect() as conn:
        assert trending(conn=conn, window="day")[0] == ["2403.00060", "2403.00061"]
    T._cache.clear()


def test_long_windows_are_pruned_exactly(engine: Engine) -> None:
    """``month`` and ``all`` use the top of the last week as a bar for older papers: same pages as scoring
    every voted paper (compared here against the unpruned query, on random data with many ties)."""
    import random

    from paperfeed.store import trending as S

    rng = random.Random(5)
    with engine.begin() as conn:
        users = [
            create_verified_user(conn=conn, email=f"r{i}@example.org", username=f"r{i}", password_hash="x")
            for i in range(40)
        ]
        papers = [
            make_paper(
                id=f"2402.{i:05d}",
                published=NOW - timedelta(hours=rng.choice([rng.uniform(0, 24 * 60), float(rng.randint(0, 60) * 24)])),
            )
            for i in range(300)
        ]
        upsert_papers(conn=conn, papers_in=papers)
        for p in papers:
            for u in rng.sample(users, min(40, int(rng.paretovariate(1.0)))):
                add_vote(conn=conn, user_id=u.id, paper_id=p.id)
    with engine.connect() as conn:
        for window in ("month", "all"):
            span = T_WINDOWS[window]
            since = NOW - span if span is not None else None
            full = S._page(
                conn, S._window(since) if since else S._all_entries(None), NOW, GRAVITY, OFFSET_HOURS, 0, 1000
            )
            for offset, limit in ((0, 5), (0, 30), (7, 11), (40, 30)):
                got = S.trending_rows(
                    conn=conn,
                    now=NOW,
                    since=since,
                    gravity=GRAVITY,
                    offset_hours=OFFSET_HOURS,
                    offset=offset,
                    limit=limit,
                )
                assert [r[0] for r in got] == [r[0] for r in full[offset : offset + limit]], (window, offset)
            assert S._pruned(conn, NOW, since, GRAVITY, OFFSET_HOURS, 0, 10) is not None  # the bar was used
