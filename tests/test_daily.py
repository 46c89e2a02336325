"""Daily papers: periods, entry dates (submission > published > first seen), sorting, paging."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from paperfeed.rank.daily import PeriodError, daily_papers, latest_daily_date, parse_month, parse_week
from paperfeed.store.papers import upsert_papers
from paperfeed.store.submissions import add_submission
from paperfeed.store.users import UserPublic
from paperfeed.store.votes import add_vote
from tests.factories import create_verified_user, make_paper
from tests.pg import sqlite_only


def _at(day: int, hour: int = 12, month: int = 1) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


@pytest.fixture
def corpus(engine: Engine) -> Engine:
    """Jan 2024: papers published on the 15th/16th/22nd, one only first-seen, one submitted later."""
    papers = [
        make_paper(id="2401.00101", published=_at(15, 9)),
        make_paper(id="2401.00102", published=_at(15, 17)),
        make_paper(id="2401.00103", published=_at(16, 0)),  # midnight UTC belongs to the 16th
        make_paper(id="2401.00104", published=_at(22)),  # next ISO week (W04)
        make_paper(id="pf-firstseen0001", published=None, first_seen=_at(15, 20)),
        make_paper(id="2312.00105", published=datetime(2023, 12, 1, tzinfo=UTC)),  # submitted on Jan 15
    ]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=papers)
        ada = create_verified_user(
            conn=conn, email="ada@example.org", username="ada", display_name="Ada L.", password_hash="x"
        )
        bob = create_verified_user(conn=conn, email="bob@example.org", username="bob", password_hash="x")
        add_submission(conn=conn, paper_id="2312.00105", user_id=ada.id, when=_at(15, 23))
        for u in (ada, bob):
            add_vote(conn=conn, user_id=u.id, paper_id="2401.00101")
        add_vote(conn=conn, user_id=bob.id, paper_id="pf-firstseen0001")
    return engine


def test_a_day_lists_its_papers_newest_first(corpus: Engine) -> None:
    with corpus.connect() as conn:
        entries, total = daily_papers(conn=conn, day=date(2024, 1, 15))
    assert total == 4
    assert [e.paper.id for e in entries] == ["2312.00105", "pf-firstseen0001", "2401.00102", "2401.00101"]
    submitted = entries[0]
    assert submitted.submitted_by == UserPublic("ada", "Ada L.")
    assert submitted.daily_date == date(2024, 1, 15) and submitted.submitted_at == _at(15, 23)
    assert entries[1].submitted_by is None and entries[1].daily_date == date(2024, 1, 15)
    assert [e.upvotes for e in entries] == [0, 1, 0, 2] and all(e.num_comments == 0 for e in entries)


def test_submission_moves_a_paper_to_its_submission_day(corpus: Engine) -> None:
    with corpus.connect() as conn:
        december, total = daily_papers(conn=conn, month="2023-12")
    assert (december, total) == ([], 0)


def test_trending_sort_puts_upvoted_first(corpus: Engine) -> None:
    with corpus.connect() as conn:
        entries, _ = daily_papers(conn=conn, day=date(2024, 1, 15), sort="trending")
    assert [e.paper.id for e in entries] == ["2401.00101", "pf-firstseen0001", "2312.00105", "2401.00102"]


def test_week_and_month_and_paging(corpus: Engine) -> None:
    with corpus.connect() as conn:
        week, total = daily_papers(conn=conn, week="2024-W03")
        assert total == 5 and "2401.00104" not in {e.paper.id for e in week}
        assert [e.paper.id for e in daily_papers(conn=conn, week="2024-W04")[0]] == ["2401.00104"]
        month, total = daily_papers(conn=conn, month="2024-01", offset=2, limit=2)
        assert total == 6
        assert [e.paper.id for e in month] == ["2312.00105", "pf-firstseen0001"]


def test_submitter_filter_and_default_period(corpus: Engine) -> None:
    with corpus.connect() as conn:
        mine, total = daily_papers(conn=conn, submitter="ADA")
        assert total == 1 and mine[0].paper.id == "2312.00105"
        assert daily_papers(conn=conn, submitter="bob") == ([], 0)
        assert latest_daily_date(conn=conn) == date(2024, 1, 22)
        latest, total = daily_papers(conn=conn)  # no period: the latest day with papers
        assert total == 1 and latest[0].paper.id == "2401.00104"


def test_empty_store(engine: Engine) -> None:
    with engine.connect() as conn:
        assert daily_papers(conn=conn) == ([], 0)
        assert latest_daily_date(conn=conn) is None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"week": "2024-3"}, "week"),
        ({"week": "2024-W54"}, "week"),
        ({"month": "2024-13"}, "month"),
        ({"month": "January"}, "month"),
        ({"sort": "random"}, "sort"),
        ({"week": "2024-W03", "month": "2024-01"}, "month"),
        ({"day": date(9999, 12, 31)}, "date"),
        ({"day": date(1, 1, 1)}, "date"),
        ({"week": "9999-W52"}, "week"),
        ({"month": "0001-01"}, "month"),
        ({"month": "9999-12"}, "month"),
    ],
)
def test_bad_periods_name_the_field(engine: Engine, kwargs: dict[str, str], field: str) -> None:
    with engine.connect() as conn, pytest.raises(PeriodError) as err:
        daily_papers(conn=conn, **kwargs)  # type: ignore[arg-type]
    assert err.value.field == field


def test_neighbouring_days_skip_empty_ones(corpus: Engine) -> None:
    from paperfeed.rank.daily import adjacent_days

    with corpus.connect() as conn:
        assert adjacent_days(conn=conn, day=date(2024, 1, 16)) == (date(2024, 1, 15), date(2024, 1, 22))
        assert adjacent_days(conn=conn, day=date(2024, 1, 19)) == (date(2024, 1, 16), date(2024, 1, 22))
        # the paper submitted on the 15th left December: nothing before the 15th
        assert adjacent_days(conn=conn, day=date(2024, 1, 15)) == (None, date(2024, 1, 16))
        assert adjacent_days(conn=conn, day=date(2024, 1, 22)) == (date(2024, 1, 16), None)


def test_period_parsing() -> None:
    assert parse_week("2024-W01") == (date(2024, 1, 1), date(2024, 1, 8))
    assert parse_week("2020-W53") == (date(2020, 12, 28), date(2021, 1, 4))
    assert parse_month("2024-12") == (date(2024, 12, 1), date(2025, 1, 1))


@sqlite_only
def test_queries_use_indexes(corpus: Engine) -> None:
    """A day's list is index range scans (no scan of all papers), so it stays cheap at 1M papers."""
    from sqlalchemy import select

    from paperfeed.store.daily import _entries

    q = select(_entries(_at(15, 0), _at(16, 0), None))
    with corpus.connect() as conn:
        compiled = q.compile(dialect=conn.dialect)
        params = tuple(compiled.params[k] for k in compiled.positiontup or [])
        plan = " | ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params))
    assert "SCAN papers" not in plan and "SCAN submissions" not in plan
    assert "ix_papers_published_first_seen" in plan and "ix_submissions_submitted_at" in plan


def test_papers_that_entered_at_one_instant_list_in_the_order_they_arrived(engine: Engine) -> None:
    """Like the demo corpus, seeded at one instant: ties of entry time follow the order of arrival (across
    batches too), not the hash ids."""
    import random

    at = _at(6)
    ids = [f"pf-{random.Random(n).getrandbits(64):016x}" for n in range(12)]
    undated = {"published": None, "updated": None, "versions": [], "first_seen": at}
    first, second = ids[:8], ids[8:]
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id=i, **undated) for i in first])
    with engine.begin() as conn:
        upsert_papers(conn=conn, papers_in=[make_paper(id=i, **undated) for i in second])
        newer = make_paper(id="pf-ffffffffffffffff", published=None, updated=None, versions=[], first_seen=_at(6, 13))
        upsert_papers(conn=conn, papers_in=[newer])
    assert ids != sorted(ids)  # so an order by id would differ
    with engine.connect() as conn:
        entries, total = daily_papers(conn=conn, day=date(2024, 1, 6))
        assert total == 13
        assert [e.paper.id for e in entries] == ["pf-ffffffffffffffff", *ids]  # newest first, then by arrival
        page2, _ = daily_papers(conn=conn, day=date(2024, 1, 6), offset=5, limit=4)
        assert [e.paper.id for e in page2] == ids[4:8]
