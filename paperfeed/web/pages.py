"""HTML pages, one module per area, gathered into one router (registered last by ``web/app.py``, after the
more specific routes such as ``/papers/{id}.bib``):

- :mod:`paperfeed.web.daily_pages`: daily papers (day/week/month) on the home page, Trending;
- :mod:`paperfeed.web.search_page`: search;
- :mod:`paperfeed.web.paper_pages`: the paper page, upvote, save to the library;
- :mod:`paperfeed.web.library_pages`: the library and its collections;
- :mod:`paperfeed.web.submit_page`: submit a paper;
- :mod:`paperfeed.web.similar_page`: papers like a pasted abstract or an uploaded PDF;
- here: the no-JavaScript theme switch.

Handlers follow one shape: read parameters, call one service (``rank.daily``, ``rank.trending``, the
searcher, ``store.votes``), build cards in :mod:`paperfeed.web.views`, render a template. Every POST is a
form with a CSRF token (checked by the router dependency) and answers with a 303 redirect.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from paperfeed.web import daily_pages, library_pages, paper_pages, search_page, similar_page, submit_page
from paperfeed.web.deps import CsrfProtected
from paperfeed.web.page_params import safe_next

__all__ = ["router", "safe_next"]  # safe_next: imported from here by auth, comments and foryou

router = APIRouter()
for _area in (daily_pages, search_page, paper_pages, library_pages, submit_page, similar_page):
    router.include_router(_area.router)


@router.post("/theme", dependencies=[CsrfProtected], include_in_schema=False)
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
