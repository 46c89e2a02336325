""" "For you": recommendations for a member from their library and upvotes, as a page and as JSON.

``GET /for-you`` (signed-in member) and ``GET /api/v1/for-you`` (personal API token) make the same service
call (:func:`paperfeed.rank.foryou.recommend`, the ranking the digest's "For you" section uses) and differ
only in their last line. Without a search service there is nothing to compare papers with: the page says
so, and the JSON says ``"source": "none"``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed.rank.foryou import recommend
from paperfeed.store.papers import get_papers
from paperfeed.web.api_v1 import papers_out
from paperfeed.web.deps import ApiUser, CurrentUser, SettingsDep, StoreDep
from paperfeed.web.schemas import PaperOut
from paperfeed.web.templating import render
from paperfeed.web.views import Card, decorate

router = APIRouter()
LIMIT = 30


class ForYouItemOut(BaseModel):
    paper: PaperOut
    score: float = Field(description="time-decayed mean similarity to the library, 0..1")
    reason: str = Field(description='"similar to <title of a paper in your library>"')


class ForYouOut(BaseModel):
    data: list[ForYouItemOut]
    count: int
    source: Literal["dense", "similar", "lexical", "none"] = Field(
        description="the similarity used; none: no search service, so no recommendations"
    )
    library_size: int = Field(description="saved and upvoted papers the recommendations come from")


@router.get("/for-you", include_in_schema=False)
def for_you(request: Request, engine: StoreDep, user: CurrentUser) -> Response:
    """Papers similar to the member's saved and upvoted ones, best first, each with its reason."""
    searcher = getattr(request.app.state, "searcher", None)  # not SearcherDep: no search is not a 503 here
    with engine.connect() as conn:
        recs = recommend(conn=conn, user_id=user.id, searcher=searcher, limit=LIMIT)
        papers = {p.id: p for p in get_papers(conn=conn, ids=recs.ids)}
        cards = decorate(
            conn,
            [Card(papers[pid], score=score) for pid, score in zip(recs.ids, recs.scores, strict=True) if pid in papers],
            user,
        )
    items = [{"card": c, "why": recs.reasons.get(c.paper.id, "")} for c in cards]
    return render(
        request,
        "foryou.html",
        {"tab": "for-you", "items": items, "seeds": recs.seeds, "search_available": searcher is not None},
    )


@router.get("/api/v1/for-you", response_model=ForYouOut, tags=["Paperfeed API v1"])
def for_you_api(
    request: Request,
    engine: StoreDep,
    settings: SettingsDep,
    user: ApiUser,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ForYouOut:
    """Recommendations for the token's owner, best first, each with its reason."""
    searcher = getattr(request.app.state, "searcher", None)
    with engine.connect() as conn:
        recs = recommend(conn=conn, user_id=user.id, searcher=searcher, limit=limit)
        papers = {p.id: p for p in get_papers(conn=conn, ids=recs.ids)}
        found = [(pid, score) for pid, score in zip(recs.ids, recs.scores, strict=True) if pid in papers]
        out = papers_out(conn, [papers[pid] for pid, _ in found], settings.base_url)
    data = [
        ForYouItemOut(paper=p, score=round(score, 6), reason=recs.reasons.get(pid, ""))
        for p, (pid, score) in zip(out, found, strict=True)
    ]
    return ForYouOut(
        data=data,
        count=len(data),
        source=recs.source,  # type: ignore[arg-type]
        library_size=recs.seeds,
    )
