"""Daily papers: what entered the daily list on a day, in an ISO week or in a month.

A paper's daily date is the day a member submitted it, else its arXiv publication date, else the day
Paperfeed first saw it (all UTC). The SQL lives in :mod:`paperfeed.store.daily`; this module turns the
period names of the Hugging Face API (``date``, ``week=2024-W03``, ``month=2024-01``) into time ranges and
hydrates the page of entries once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection

from paperfeed.errors import FieldError
from paperfeed.models import Paper
from paperfeed.store.comments import visible_counts
from paperfeed.store.daily import daily_rows, entry_bounds, neighbour_entry
from paperfeed.store.papers import get_papers
from paperfeed.store.users import UserPublic

SORTS = ("publishedAt", "trending", "citations")
# Periods outside these bounds are refused (400 naming the field), not computed (dates near year 1 or 9999
# would overflow when the pages step to the previous or next period).
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{1,2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


class PeriodError(FieldError):
    """A malformed ``date``/``week``/``month``/``sort``; ``field`` names which."""


@dataclass
class DailyEntry:
    """One paper on the daily list, as the home page and ``/api/daily_papers`` show it."""

    paper: Paper
    daily_date: date
    submitted_at: datetime
    submitted_by: UserPublic | None
    upvotes: int
    num_comments: int = 0
    submitted: bool = False  # a member submitted it (False: it arrived by import or harvest)


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=UTC)


def check_date(value: date, field: str = "date") -> date:
    """``value`` if it lies between :data:`MIN_DATE` and :data:`MAX_DATE`, else :class:`PeriodError`."""
    if not MIN_DATE <= value <= MAX_DATE:
        raise PeriodError(field, f"{field} must be between {MIN_DATE} and {MAX_DATE}, got {value}")
    return value


def parse_week(week: str) -> tuple[date, date]:
    """``"2024-W03"`` -> (Monday, next Monday) of that ISO week."""
    m = _WEEK_RE.match(week.strip())
    if not m:
        raise PeriodError("week", f"week must look like 2024-W03, got {week!r}")
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as exc:
        raise PeriodError("week", f"no such ISO week: {week!r}") from exc
    check_date(monday, "week")
    return monday, monday + timedelta(days=7)


def parse_month(month: str) -> tuple[date, date]:
    """``"2024-01"`` -> (first day, first day of the next month)."""
    m = _MONTH_RE.match(month.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 1:
        raise PeriodError("month", f"month must look like 2024-01, got {month!r}")
    year, mon = int(m.group(1)), int(m.group(2))
    first = check_date(date(year, mon, 1), "month")
    nxt = date(year + 1, 1, 1) if mon == 12 else date(year, mon + 1, 1)
    return first, nxt


def period_range(
    *, day: date | None = None, week: str | None = None, month: str | None = None
) -> tuple[datetime | None, datetime | None]:
    """The UTC ``[start, end)`` of at most one of day/week/month; (None, None) means no bound."""
    given = [name for name, v in (("date", day), ("week", week), ("month", month)) if v is not None]
    if len(given) > 1:
        raise PeriodError(given[1], f"give only one of date, week or month (got {', '.join(given)})")
    if day is not None:
        check_date(day)
        return _midnight(day), _midnight(day + timedelta(days=1))
    if week is not None:
        lo, hi = parse_week(week)
        return _midnight(lo), _midnight(hi)
    if month is not None:
        lo, hi = parse_month(month)
        return _midnight(lo), _midnight(hi)
    return None, None


def daily_papers(
    *,
    conn: Connection,
    day: date | None = None,
    week: str | None = None,
    month: str | None = None,
    submitter: str | None = None,
    sort: str = "publishedAt",
    offset: int = 0,
    limit: int = 50,
    members_only: bool = False,
) -> tuple[list[DailyEntry], int]:
    """A page of the daily list for a day, week or month and the total count.

    With no period, the latest day that has papers (with only ``submitter``: that member's submissions of
    all time).

    ``sort="publishedAt"``: newest entry first; ``"trending"``: most upvotes first, then newest; ``"citations"``:
    most cited first (OpenAlex counts; papers without citation data count 0), then newest; ties by id.
    ``submitter`` keeps only papers that member (username) submitted; ``members_only`` only papers some
    member submitted (not those that arrived by import or by following arXiv).
    """
    if sort not in SORTS:
        raise PeriodError("sort", f"sort must be one of {', '.join(SORTS)}, got {sort!r}")
    if day is None and week is None and month is None and submitter is None:
        day = latest_daily_date(conn=conn)  # like Hugging Face: no period means the latest day
        if day is None:
            return [], 0
    start, end = period_range(day=day, week=week, month=month)
    rows, total = daily_rows(
        conn=conn,
        start=start,
        end=end,
        submitter=submitter,
        sort=sort,  # type: ignore[arg-type]
        offset=offset,
        limit=limit,
        members_only=members_only,
    )
    by_id = get_papers(conn=conn, ids=[r.paper_id for r in rows])
    discussed = visible_counts(conn=conn, paper_ids=list(by_id))
    entries = []
    for r in rows:
        paper = by_id.get(r.paper_id)
        if paper is None:  # deleted between the two queries
            continue
        who = UserPublic(r.submitted_by, r.submitter_name or r.submitted_by) if r.submitted_by else None
        entries.append(
            DailyEntry(
                paper=paper,
                daily_date=r.entered_at.date(),
                submitted_at=r.entered_at,
                submitted_by=who,
                upvotes=r.upvotes,
                num_comments=discussed.get(r.paper_id, 0),
                submitted=r.submitted,
            )
        )
    return entries, total


def latest_daily_date(*, conn: Connection) -> date | None:
    """The most recent daily date with any paper (the home page opens there when today is empty)."""
    _, last = entry_bounds(conn=conn)
    return last.date() if last else None


def first_daily_date(*, conn: Connection) -> date | None:
    first, _ = entry_bounds(conn=conn)
    return first.date() if first else None


def adjacent_days(*, conn: Connection, day: date) -> tuple[date | None, date | None]:
    """The nearest earlier and later daily dates that have papers (None where there is none)."""
    before = neighbour_entry(conn=conn, before=_midnight(day))
    after = neighbour_entry(conn=conn, after=_midnight(day + timedelta(days=1)))
    return (before.date() if before else None, after.date() if after else None)
