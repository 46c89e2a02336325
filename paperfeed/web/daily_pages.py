"""The listing pages: daily papers (a day, an ISO week or a month) on the home page, and Trending."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from paperfeed.models import DailySort, TrendingWindow
from paperfeed.rank.daily import (
    PeriodError,
    adjacent_days,
    check_date,
    daily_papers,
    latest_daily_date,
    parse_month,
    parse_week,
    period_range,
)
from paperfeed.rank.trending import WINDOWS, trending
from paperfeed.store.citation_graph import most_cited
from paperfeed.store.papers import get_papers
from paperfeed.web.deps import CsrfProtected, OptionalUser, StoreDep
from paperfeed.web.page_params import PER_PAGE, OptionalDate, Page
from paperfeed.web.templating import render
from paperfeed.web.views import Card, decorate, page_links

router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)
MOST_CITED_SPAN = timedelta(days=30)  # trending's "most cited this month"


def _today() -> date:
    return datetime.now(UTC).date()


def _period(conn: Any, day: date | None, week: str | None, month: str | None) -> dict[str, Any]:
    """The period the home page shows, its title and its prev/next links."""
    if day is not None:
        check_date(day)
    if week:
        lo, _ = parse_week(week)
        prev_w, next_w, last = lo - timedelta(days=7), lo + timedelta(days=7), lo + timedelta(days=6)
        fmt = "{0}-W{1:02d}"
        return {
            "view": "week",
            "week": week,
            "anchor": lo,
            "title": f"Week {lo.isocalendar()[1]}, {lo.isocalendar()[0]}",
            "subtitle": f"{lo:%b} {lo.day} – {last:%b} {last.day}",
            "prev": "/?week=" + fmt.format(*prev_w.isocalendar()[:2]),
            "next": "/?week=" + fmt.format(*next_w.isocalendar()[:2]) if next_w <= _today() else None,
        }
    if month:
        lo, hi = parse_month(month)
        prev_m = (lo - timedelta(days=1)).replace(day=1)
        return {
            "view": "month",
            "month": month,
            "anchor": lo,
            "title": f"{lo:%B %Y}",
            "subtitle": "",
            "prev": f"/?month={prev_m:%Y-%m}",
            "next": f"/?month={hi:%Y-%m}" if hi <= _today() else None,
        }
    if day is None:
        latest = latest_daily_date(conn=conn)
        day = min(latest, _today()) if latest else _today()
    before, after = adjacent_days(conn=conn, day=day)
    if after is None and day < _today():
        after = _today()
    return {
        "view": "day",
        "day": day,
        "anchor": day,
        "title": f"{day:%A, %B} {day.day}, {day.year}",
        "subtitle": "",
        "prev": f"/?date={before}" if before else None,
        "next": f"/?date={after}" if after and after <= _today() else None,
    }


@router.get("/")
def home(
    request: Request,
    engine: StoreDep,
    user: OptionalUser,
    day: Annotated[OptionalDate, Query(alias="date")] = None,
    week: str | None = None,
    month: str | None = None,
    sort: DailySort = "publishedAt",
    show: Literal["all", "members"] = "all",
    p: Page = 1,
) -> Response:
    """Daily papers for a day (default: the latest day with papers), an ISO week or a month; ``show=members``:
    only the papers members submitted, not those that arrived by themselves (followed arXiv, imports)."""
    try:
        period_range(day=day, week=week or None, month=month or None)  # one period, within bounds
        with engine.connect() as conn:
            period = _period(conn, day, week, month)
            entries, total = daily_papers(
                conn=conn,
                day=period.get("day"),
                week=week or None,
                month=month or None,
                sort=sort,
                offset=(p - 1) * PER_PAGE,
                limit=PER_PAGE,
                members_only=show == "members",
            )
            cards = decorate(
                conn,
                [
                    Card(
                        e.paper,
                        e.upvotes,
                        daily_date=e.daily_date,
                        submitted_by=e.submitted_by,
                        origin="member" if e.submitted else "arrived",
                    )
                    for e in entries
                ],
                user,
                counts=False,
            )
    except PeriodError as exc:
        raise HTTPException(400, f"{exc.field}: {exc}") from exc
    anchor: date = period["anchor"]
    iso = anchor.isocalendar()
    params = {
        "date": str(day) if day else None,
        "week": week,
        "month": month,
        "sort": sort if sort != "publishedAt" else None,
        "show": show if show != "all" else None,
    }
    period_params = {k: v for k, v in params.items() if k not in ("sort", "show") and v}
    shown = {k: v for k, v in params.items() if k != "show" and v}
    return render(
        request,
        "home.html",
        {
            "tab": period["view"],
            "period": period,
            "cards": cards,
            "total": total,
            "sort": sort,
            "pages": page_links("/", params, p, PER_PAGE, total),
            "page": p,
            "period_params": period_params,
            "sort_urls": {
                s: "/?" + urlencode({**period_params, "sort": s, **({"show": show} if show != "all" else {})})
                for s in ("publishedAt", "trending", "citations")
            },
            "show": show,
            "show_urls": {
                "all": "/" + ("?" + urlencode(shown) if shown else ""),
                "members": "/?" + urlencode({**shown, "show": "members"}),
            },
            "tab_week": f"{iso[0]}-W{iso[1]:02d}",
            "tab_month": f"{anchor:%Y-%m}",  # the tabs stay near this date
        },
    )


@router.get("/trending")
def trending_page(
    request: Request,
    engine: StoreDep,
    user: OptionalUser,
    window: TrendingWindow = "week",
    view: Literal["upvotes", "cited"] = "upvotes",
    p: Page = 1,
) -> Response:
    """Papers ranked by upvotes with time decay (see :mod:`paperfeed.rank.trending`); ``view=cited``: the
    papers of the last 30 days, most cited first."""
    if view == "cited":
        return _most_cited_page(request, engine, user, p)
    with engine.connect() as conn:
        ids, scores = trending(conn=conn, window=window, offset=(p - 1) * PER_PAGE, limit=PER_PAGE + 1)
        more = len(ids) > PER_PAGE
        ids, scores = ids[:PER_PAGE], scores[:PER_PAGE]
        papers = get_papers(conn=conn, ids=ids)
        cards = decorate(
            conn, [Card(papers[i], score=s) for i, s in zip(ids, scores, strict=True) if i in papers], user
        )
        total = (p - 1) * PER_PAGE + len(cards) + (1 if more else 0)
        if not ids and p > 1:  # past the end: how many there are, to link back to the last page
            total = len(trending(conn=conn, window=window, offset=0, limit=(p - 1) * PER_PAGE)[0])
    return render(
        request,
        "trending.html",
        {
            "tab": "trending",
            "window": window,
            "windows": list(WINDOWS),
            "cards": cards,
            "page": p,
            "per_page": PER_PAGE,
            "pages": page_links("/trending", {"window": window}, p, PER_PAGE, total),
        },
    )


def _most_cited_page(request: Request, engine: Any, user: Any, p: int) -> Response:
    """Trending's "most cited this month": papers that entered the daily list in the last 30 days, most
    cited first (OpenAlex counts stored by ``paperfeed citations``)."""
    since = datetime.now(UTC) - MOST_CITED_SPAN
    with engine.connect() as conn:
        rows = most_cited(conn=conn, since=since, offset=(p - 1) * PER_PAGE, limit=PER_PAGE + 1)
        more = len(rows) > PER_PAGE
        rows = rows[:PER_PAGE]
        by_id = get_papers(conn=conn, ids=[r[0] for r in rows])
        cited = [Card(by_id[pid], reason=f"cited by {n}", score=n) for pid, n, _ in rows if pid in by_id]
        cards = decorate(conn, cited, user)
    total = (p - 1) * PER_PAGE + len(cards) + (1 if more else 0)
    return render(
        request,
        "trending.html",
        {
            "tab": "trending",
            "view": "cited",
            "window": "month",
            "windows": list(WINDOWS),
            "cards": cards,
            "page": p,
            "per_page": PER_PAGE,
            "pages": page_links("/trending", {"view": "cited"}, p, PER_PAGE, total),
        },
    )
