"""The search page: the query language, filters, sort and pages; the URL holds the whole query."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperfeed.models import SearchMode, SearchSort
from paperfeed.search.query import SORTS
from paperfeed.search.request import MODES
from paperfeed.store.query_examples import query_examples
from paperfeed.web.deps import CsrfProtected, OptionalSearcher, OptionalUser, StoreDep
from paperfeed.web.listing import search_query
from paperfeed.web.page_params import OptionalDate, Page, SearchText
from paperfeed.web.templating import render
from paperfeed.web.views import Card, decorate, page_links

router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)


SEARCH_PER_PAGE = 20


@router.get("/search")
def search_page(
    request: Request,
    engine: StoreDep,
    user: OptionalUser,
    searcher: OptionalSearcher,
    q: SearchText = "",
    mode: SearchMode = "hybrid",
    sort: SearchSort = "relevance",
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
        "modes": MODES,
        "sorts": SORTS,
        "page": p,
        "other_modes": {},
        "hint": None,
        "examples": None,
    }
    with engine.connect() as conn:  # one connection for the whole page
        if not (q.strip() or cat or date_from or date_to):  # the help: examples that find papers here
            ctx["examples"] = query_examples(conn=conn)
            return render(request, "search.html", ctx)
        if searcher is None:
            ctx["error"] = "Search is not available on this instance right now."
            return render(request, "search.html", ctx, status_code=503)
        try:
            query = search_query(
                q=q,
                cats=[cat],
                date_from=date_from,
                date_to=date_to,
                limit=SEARCH_PER_PAGE,
                offset=(p - 1) * SEARCH_PER_PAGE,
                mode=mode,
                sort=sort,
                spell=True,  # "Did you mean" (search/spelling.py)
                require=False,
            )
            results = searcher.answer(query, conn=conn)
        except ValueError as exc:  # FieldError, QueryError: the message says what is wrong
            ctx["error"] = str(exc)
            return render(request, "search.html", ctx, status_code=400)
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
        other_modes=results.other_modes,  # nothing found: the modes that do find papers, with their totals
        hint=results.hint,
        suggestion_url="/search?" + urlencode({k: v for k, v in {**params, "q": results.suggestion}.items() if v}),
    )
    return render(request, "search.html", ctx)
