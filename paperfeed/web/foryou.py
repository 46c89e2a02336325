""" "For you" on the web: the page, its JSON API and "not interested", thin wrappers over
:mod:`paperfeed.rank.foryou` (the ranking the digest's "For you" section uses too).

- ``GET /for-you`` (signed-in member) and ``GET /api/v1/for-you`` (personal API token): the same call,
  differing only in their last line;
- ``POST /for-you/not-interested`` (form, CSRF-checked; ``undo=1`` takes it back) and
  ``POST``/``DELETE /api/v1/for-you/not-interested/{paper_id}``: the paper leaves the member's recommendations
  and papers like it are down-weighted.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from paperfeed.models import RelatedReason
from paperfeed.rank.foryou import Recommendations, recommend
from paperfeed.store.papers import get_paper, get_papers
from paperfeed.store.related import add_not_interested, remove_not_interested
from paperfeed.store.users import User
from paperfeed.web.api_v1 import papers_out
from paperfeed.web.deps import ApiUser, CsrfProtected, CurrentUser, StoreDep
from paperfeed.web.pages import safe_next
from paperfeed.web.schemas import PaperOut
from paperfeed.web.templating import render
from paperfeed.web.urls import SiteSettingsDep
from paperfeed.web.views import Card, decorate

router = APIRouter()
LIMIT = 30
Reason = RelatedReason


class ForYouItemOut(BaseModel):
    paper: PaperOut
    score: float = Field(description="fused score: higher is closer to the library (not comparable across members)")
    reason: Reason = Field(description="why it is recommended")
    because: str | None = Field(description="id of the library paper it is closest to (null: the library as a whole)")
    explanation: str = Field(description='the reason as shown on the page, e.g. "similar abstract to <title>"')


class ForYouOut(BaseModel):
    data: list[ForYouItemOut]
    count: int
    source: Literal["dense", "lexical", "none"] = Field(
        description="dense: embeddings and words; lexical: words only; none: no search service, no recommendations"
    )
    library_size: int = Field(description="saved and upvoted papers the recommendations come from")
    not_interested: int = Field(description='papers the member said "not interested" in (left out, and down-weighted)')
    warning: str | None = Field(
        default=None, description="what is degraded in the search indexes they come from (vectors still being made...)"
    )


class NotInterestedOut(BaseModel):
    id: str
    not_interested: bool


def _recommend(request: Request, engine: Engine, user: User, limit: int) -> Recommendations:
    searcher = getattr(request.app.state, "searcher", None)  # not SearcherDep: no search is not a 503 here
    with engine.connect() as conn:
        return recommend(conn=conn, user_id=user.id, searcher=searcher, limit=limit)


@router.get("/for-you", include_in_schema=False)
def for_you(request: Request, engine: StoreDep, user: CurrentUser) -> Response:
    """Papers for the member from their saved and upvoted ones, best first, each with its reason."""
    recs = _recommend(request, engine, user, LIMIT)
    with engine.connect() as conn:
        papers = get_papers(conn=conn, ids=recs.ids)
        cards = [Card(papers[pid], score=s) for pid, s in zip(recs.ids, recs.scores, strict=True) if pid in papers]
        cards = decorate(conn, cards, user)
    items = [{"card": c, "why": recs.reasons.get(c.paper.id, "")} for c in cards]
    context = {
        "tab": "for-you",
        "items": items,
        "seeds": recs.seeds,
        "dismissed": recs.dismissed,
        "notice": recs.warning,  # vectors still being made...: never silent
    }
    context["search_available"] = getattr(request.app.state, "searcher", None) is not None
    return render(request, "foryou.html", context)


@router.post("/for-you/not-interested", include_in_schema=False, dependencies=[CsrfProtected])
def not_interested_form(
    engine: StoreDep,
    user: CurrentUser,
    paper_id: Annotated[str, Form()],
    undo: Annotated[bool, Form()] = False,
    next: Annotated[str | None, Form()] = None,  # noqa: A002 - the form field's name
) -> Response:
    """The member is not interested in a paper (``undo``: take that back); back to the page."""
    _set(engine, user, paper_id, not undo)
    return RedirectResponse(safe_next(next, "/for-you"), status_code=303)


def _set(engine: Engine, user: User, paper_id: str, dismissed: bool) -> str:
    with engine.begin() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id) if len(paper_id) <= 200 else None
        if paper is None:
            raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
        if dismissed:
            add_not_interested(conn=conn, user_id=user.id, paper_id=paper.id)
        else:
            remove_not_interested(conn=conn, user_id=user.id, paper_id=paper.id)
    return paper.id


@router.get("/api/v1/for-you", response_model=ForYouOut, tags=["Paperfeed API v1"])
def for_you_api(
    request: Request,
    engine: StoreDep,
    settings: SiteSettingsDep,
    user: ApiUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ForYouOut:
    """Recommendations for the token's owner, best first, each with its reason."""
    recs = _recommend(request, engine, user, limit)
    with engine.connect() as conn:
        papers = get_papers(conn=conn, ids=recs.ids)
        found = [(pid, score) for pid, score in zip(recs.ids, recs.scores, strict=True) if pid in papers]
        out = papers_out(conn, [papers[pid] for pid, _ in found], settings.base_url)
    data = [
        ForYouItemOut(
            paper=p,
            score=round(score, 6),
            reason=recs.kinds[pid],  # type: ignore[arg-type]
            because=recs.because.get(pid),
            explanation=recs.reasons[pid],
        )
        for p, (pid, score) in zip(out, found, strict=True)
    ]
    source = recs.source if recs.source in ("dense", "lexical") else "none"
    return ForYouOut(
        data=data,
        count=len(data),
        source=source,  # type: ignore[arg-type]
        library_size=recs.seeds,
        not_interested=recs.dismissed,
        warning=recs.warning,
    )


@router.post(
    "/api/v1/for-you/not-interested/{paper_id:path}", response_model=NotInterestedOut, tags=["Paperfeed API v1"]
)
def not_interested_api(paper_id: str, engine: StoreDep, user: ApiUser) -> NotInterestedOut:
    """Not interested in this paper: it leaves the member's recommendations, and papers like it sink."""
    return NotInterestedOut(id=_set(engine, user, paper_id, True), not_interested=True)


@router.delete(
    "/api/v1/for-you/not-interested/{paper_id:path}", response_model=NotInterestedOut, tags=["Paperfeed API v1"]
)
def interested_again_api(paper_id: str, engine: StoreDep, user: ApiUser) -> NotInterestedOut:
    """Take "not interested" back."""
    return NotInterestedOut(id=_set(engine, user, paper_id, False), not_interested=False)
