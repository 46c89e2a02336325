"""HTML pages: daily papers (day/week/month), trending, search, paper page, upvote, library, submit.

Handlers follow one shape: read parameters, call one service (``rank.daily``, ``rank.trending``, the
searcher, ``store.votes``), build cards in :mod:`paperfeed.web.views`, render a template. Every POST is a
form with a CSRF token (checked by the router dependency) and answers with a 303 redirect.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BeforeValidator

from paperfeed.ids import is_arxiv_id
from paperfeed.ingest.validate import clean_text
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
from paperfeed.search.protocols import Searcher
from paperfeed.store import library as store_library
from paperfeed.store.account_errors import AccountError
from paperfeed.store.library import collections_for_user, library_add, library_list, library_remove, paper_collections
from paperfeed.store.papers import get_paper, get_papers
from paperfeed.store.submissions import get_submission
from paperfeed.store.votes import add_vote, remove_vote, vote_counts
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalSearcher, OptionalUser, SettingsDep, StoreDep
from paperfeed.web.discussion import discussion_context
from paperfeed.web.submit import SubmitError, submit_arxiv, submit_metadata
from paperfeed.web.templating import render
from paperfeed.web.views import Card, arxiv_links, decorate, page_links, paper_url

log = logging.getLogger("paperfeed.web")
router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)
PER_PAGE = 30
Page = Annotated[int, Query(ge=1, le=10_000, description="page number, from 1")]
# A GET form sends its empty date fields as ``from=&to=``: that means "no date", not a bad one.
OptionalDate = Annotated[date | None, BeforeValidator(lambda v: None if v == "" else v)]


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths may be redirect targets (no ``//evil.example`` or ``https://...``)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) < 2000:
        return target
    return default


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
    sort: Literal["publishedAt", "trending"] = "publishedAt",
    p: Page = 1,
) -> Response:
    """Daily papers for a day (default: the latest day with papers), an ISO week or a month."""
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
            )
            cards = decorate(
                conn,
                [Card(e.paper, e.upvotes, daily_date=e.daily_date, submitted_by=e.submitted_by) for e in entries],
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
    }
    period_params = {k: v for k, v in params.items() if k != "sort" and v}
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
            "sort_urls": {s: "/?" + urlencode({**period_params, "sort": s}) for s in ("publishedAt", "trending")},
            "tab_week": f"{iso[0]}-W{iso[1]:02d}",
            "tab_month": f"{anchor:%Y-%m}",  # the tabs stay near this date
        },
    )


@router.get("/trending")
def trending_page(
    request: Request,
    engine: StoreDep,
    user: OptionalUser,
    window: Literal["day", "week", "month", "all"] = "week",
    p: Page = 1,
) -> Response:
    """Papers ranked by upvotes with time decay (see :mod:`paperfeed.rank.trending`)."""
    with engine.connect() as conn:
        ids, scores = trending(conn=conn, window=window, offset=(p - 1) * PER_PAGE, limit=PER_PAGE + 1)
        more = len(ids) > PER_PAGE
        ids, scores = ids[:PER_PAGE], scores[:PER_PAGE]
        papers = get_papers(conn=conn, ids=ids)
        score_of = dict(zip(ids, scores, strict=True))
        cards = decorate(conn, [Card(x, score=score_of[x.id]) for x in papers], user)
    total = (p - 1) * PER_PAGE + len(cards) + (1 if more else 0)
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


SEARCH_MODES = ("hybrid", "bm25", "dense")
SEARCH_SORTS = ("relevance", "date", "trending")
SEARCH_PER_PAGE = 20


@router.get("/search")
def search_page(
    request: Request,
    engine: StoreDep,
    user: OptionalUser,
    searcher: OptionalSearcher,
    q: Annotated[str, Query(max_length=1000)] = "",
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid",
    sort: Literal["relevance", "date", "trending"] = "relevance",
    cat: Annotated[str, Query(max_length=64)] = "",
    date_from: Annotated[OptionalDate, Query(alias="from")] = None,
    date_to: Annotated[OptionalDate, Query(alias="to")] = None,
    p: Page = 1,
) -> Response:
    """Search with the query language, filters and sort; the URL holds the whole query."""
    params = {
        "q": q,
        "mode": mode if mode != "hybrid" else None,
        "sort": sort if sort != "relevance" else None,
        "cat": cat,
        "from": str(date_from) if date_from else None,
        "to": str(date_to) if date_to else None,
    }
    ctx: dict[str, Any] = {
        "tab": "search",
        "q": q,
        "mode": mode,
        "sort": sort,
        "cat": cat,
        "date_from": date_from,
        "date_to": date_to,
        "cards": [],
        "total": 0,
        "error": None,
        "notice": None,
        "pages": {},
        "modes": SEARCH_MODES,
        "sorts": SEARCH_SORTS,
        "page": p,
    }
    if q.strip() or cat or date_from or date_to:
        if searcher is None:
            ctx["error"] = "Search is not available on this instance right now."
            return render(request, "search.html", ctx, status_code=503)
        try:
            results = searcher.search(
                q,
                limit=SEARCH_PER_PAGE,
                offset=(p - 1) * SEARCH_PER_PAGE,
                mode=mode,
                sort=sort,
                categories=[cat] if cat else None,
                date_from=date_from,
                date_to=date_to,
                spell=True,  # "Did you mean" (search/spelling.py)
            )
        except ValueError as exc:
            ctx["error"] = str(exc)
            return render(request, "search.html", ctx, status_code=400)
        with engine.connect() as conn:
            cards = decorate(
                conn, [Card(h.paper, snippet=h.snippet, reason=h.reason, score=h.score) for h in results.hits], user
            )
        ctx.update(
            cards=cards,
            total=results.total,
            error=results.error,
            notice=results.warning,  # vectors being built, a model off, damaged files: never silent
            first_page="/search?" + urlencode({k: v for k, v in params.items() if v}),
            pages=page_links("/search", params, p, SEARCH_PER_PAGE, results.total),
            suggestion=results.suggestion,  # "Did you mean" (search/spelling.py); corrected: hits are for it
            corrected=results.corrected,
            suggestion_url="/search?" + urlencode({k: v for k, v in {**params, "q": results.suggestion}.items() if v}),
        )
    return render(request, "search.html", ctx)


@router.get("/papers/{paper_id:path}")
def paper_page(
    request: Request, paper_id: str, engine: StoreDep, user: OptionalUser, searcher: OptionalSearcher
) -> Response:
    """One paper: abstract, dates and versions, links, upvotes, library, similar papers."""
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id)
        if paper is None:
            raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
        if paper.id != paper_id:
            return RedirectResponse(paper_url(paper.id), status_code=301)
        card = decorate(conn, [Card(paper)], user)[0]
        submission = get_submission(conn=conn, paper_id=paper.id)
        collections = collections_for_user(conn=conn, user_id=user.id) if user else []
        holding = paper_collections(conn=conn, user_id=user.id, paper_id=paper.id) if user else set()
        discussion = discussion_context(conn=conn, paper_id=paper.id, user=user)
    similar = _similar(searcher, paper.id)
    if similar:
        with engine.connect() as conn:
            similar = decorate(conn, similar, user)
    return render(
        request,
        "paper.html",
        {
            "card": card,
            "paper": paper,
            "links": arxiv_links(paper),
            "submission": submission,
            "similar": similar,
            "collections": collections,
            "holding": holding,
            "is_arxiv": is_arxiv_id(paper.id),
            **discussion,
        },
    )


def _similar(searcher: Searcher | None, paper_id: str, limit: int = 6) -> list[Card]:
    if searcher is None:
        return []
    try:
        hits = searcher.similar(paper_id, limit=limit)
    except Exception:  # noqa: BLE001 - similar papers are a bonus: the page still renders
        log.exception("similar papers for %s failed", paper_id)
        return []
    return [Card(h.paper, score=h.score, reason=h.reason) for h in hits]  # reason: why it is related


def _vote_response(request: Request, paper_id: str, next_url: str | None, engine: Any, voted: bool) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        with engine.connect() as conn:
            count = vote_counts(conn=conn, ids=[paper_id])[paper_id]
        return JSONResponse({"id": paper_id, "upvotes": count, "voted": voted})
    return RedirectResponse(safe_next(next_url, paper_url(paper_id)), status_code=303)


@router.post("/papers/{paper_id:path}/vote")
def vote(
    request: Request,
    paper_id: str,
    engine: StoreDep,
    user: CurrentUser,
    action: Annotated[Literal["up", "down"], Form()] = "up",
    next: Annotated[str | None, Form()] = None,
) -> Response:  # noqa: A002 - the form field's name
    """Upvote (``action=up``) or take the vote back (``action=down``); one vote per member and paper."""
    with engine.begin() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id)
        if paper is None:
            raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
        if action == "up":
            add_vote(conn=conn, user_id=user.id, paper_id=paper.id)
        else:
            remove_vote(conn=conn, user_id=user.id, paper_id=paper.id)
    return _vote_response(request, paper.id, next, engine, action == "up")


@router.post("/papers/{paper_id:path}/save")
def save(
    paper_id: str,
    engine: StoreDep,
    user: CurrentUser,
    action: Annotated[Literal["save", "remove"], Form()] = "save",
    collection: Annotated[int | None, Form()] = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:  # noqa: A002
    """Save a paper to a collection of the member's library (default "Saved"), or remove it."""
    with engine.begin() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id)
        if paper is None:
            raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
        if action == "save":
            added = library_add(conn=conn, user_id=user.id, paper_id=paper.id, collection_id=collection)
            if not added:
                owned = {c.id for c in collections_for_user(conn=conn, user_id=user.id)}
                if collection is not None and collection not in owned:
                    raise HTTPException(404, "That collection does not exist.")
        else:
            library_remove(conn=conn, user_id=user.id, paper_id=paper.id, collection_id=collection)
    return RedirectResponse(safe_next(next, paper_url(paper.id)), status_code=303)


@router.get("/library")
def library(request: Request, engine: StoreDep, user: CurrentUser, c: int | None = None, p: Page = 1) -> Response:
    """The member's saved papers: everything, or one named collection."""
    with engine.connect() as conn:
        collections = collections_for_user(conn=conn, user_id=user.id)
        current = next((x for x in collections if x.id == c), None)
        if c is not None and current is None:
            raise HTTPException(404, "That collection does not exist.")
        ids = library_list(conn=conn, user_id=user.id, collection_id=c, offset=(p - 1) * PER_PAGE, limit=PER_PAGE + 1)
        more = len(ids) > PER_PAGE
        cards = decorate(conn, [Card(x) for x in get_papers(conn=conn, ids=ids[:PER_PAGE])], user)
    total = (p - 1) * PER_PAGE + len(cards) + (1 if more else 0)
    return render(
        request,
        "library.html",
        {
            "collections": collections,
            "current": current,
            "cards": cards,
            "tab": "library",
            "pages": page_links("/library", {"c": c}, p, PER_PAGE, total),
        },
    )


@router.post("/library/collections")
def create_collection(
    request: Request, engine: StoreDep, user: CurrentUser, name: Annotated[str, Form(max_length=200)]
) -> Response:
    try:
        with engine.begin() as conn:
            made = store_library.create_collection(conn=conn, user_id=user.id, name=clean_text(name))
    except AccountError as exc:
        raise HTTPException(400, f"{exc.field}: {exc}") from exc
    return RedirectResponse(f"/library?c={made.id}", status_code=303)


@router.post("/library/collections/{collection_id}/delete")
def delete_collection(collection_id: int, engine: StoreDep, user: CurrentUser) -> Response:
    with engine.begin() as conn:
        if not store_library.delete_collection(conn=conn, user_id=user.id, collection_id=collection_id):
            raise HTTPException(404, "That collection does not exist (the default one cannot be deleted).")
    return RedirectResponse("/library", status_code=303)


@router.get("/submit")
def submit_form(request: Request, user: CurrentUser) -> Response:
    return render(request, "submit.html", {"tab": "submit", "form": {}, "errors": {}})


@router.post("/submit")
def submit(
    request: Request,
    engine: StoreDep,
    settings: SettingsDep,
    user: CurrentUser,
    searcher: OptionalSearcher,
    how: Annotated[Literal["arxiv", "paste"], Form()] = "paste",
    arxiv: Annotated[str, Form(max_length=300)] = "",
    title: Annotated[str, Form(max_length=2000)] = "",
    abstract: Annotated[str, Form(max_length=60_000)] = "",
    authors: Annotated[str, Form(max_length=100_000)] = "",
    url: Annotated[str, Form(max_length=2000)] = "",
    code_url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Submit by arXiv id (fetched from arXiv) or with pasted metadata; then show the paper."""
    try:
        if how == "arxiv":
            result = submit_arxiv(engine=engine, settings=settings, user_id=user.id, arxiv=arxiv, searcher=searcher)
        else:
            result = submit_metadata(
                engine=engine,
                user_id=user.id,
                title=title,
                abstract=abstract,
                authors=authors,
                arxiv=arxiv,
                url=url,
                code_url=code_url,
                searcher=searcher,
            )
    except SubmitError as exc:
        form = {
            "how": how,
            "arxiv": arxiv,
            "title": title,
            "abstract": abstract,
            "authors": authors,
            "url": url,
            "code_url": code_url,
        }
        return render(
            request, "submit.html", {"tab": "submit", "form": form, "errors": {exc.field: str(exc)}}, status_code=400
        )
    return RedirectResponse(
        paper_url(result.paper_id) + ("?submitted=1" if result.created else "?already=1"), status_code=303
    )


@router.post("/theme")
def set_theme(
    theme: Annotated[Literal["light", "dark", "auto"], Form()], next: Annotated[str | None, Form()] = None
) -> Response:  # noqa: A002
    """No-JavaScript theme switch: remember the choice in a cookie."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if theme == "auto":
        response.delete_cookie("theme", path="/")
    else:
        response.set_cookie("theme", theme, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response
