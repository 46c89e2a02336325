"""One paper's page, and the forms on it: upvote (or take it back) and save to the library."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import Engine

from paperfeed.community.authors import claim_context
from paperfeed.community.comments import discussion_context
from paperfeed.community.votes import cast_vote
from paperfeed.ids import is_arxiv_id
from paperfeed.models import SimilarSort
from paperfeed.rank.related import similar_papers
from paperfeed.search.protocols import Searcher
from paperfeed.store.library import collections_for_user, library_add, library_remove, paper_collections
from paperfeed.store.papers import get_paper
from paperfeed.store.submissions import get_submission
from paperfeed.web.citations import citation_context
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalSearcher, OptionalUser, StoreDep, VerifiedUser
from paperfeed.web.page_params import safe_next
from paperfeed.web.templating import render
from paperfeed.web.urls import paper_url
from paperfeed.web.views import Card, arxiv_links, decorate

log = logging.getLogger("paperfeed.web")
router = APIRouter(dependencies=[CsrfProtected], include_in_schema=False)


@router.get("/papers/{paper_id:path}")
def paper_page(
    request: Request,
    paper_id: str,
    engine: StoreDep,
    user: OptionalUser,
    searcher: OptionalSearcher,
    similar_sort: Annotated[SimilarSort, Query(alias="similar")] = "relevance",
) -> Response:
    """One paper: abstract, dates and versions, links, upvotes, library, similar papers (``?similar=date`` or
    ``upvotes`` reorders them)."""
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
        claiming = claim_context(conn=conn, paper=paper, user=user)  # AUTHORS: claim buttons
        cited = citation_context(conn=conn, paper_id=paper.id, show_all=request.query_params.get("cited") == "all")
        similar = decorate(conn, _similar(engine, searcher, paper.id, sort=similar_sort), user)
    return render(
        request,
        "paper.html",
        {
            "card": card,
            "paper": paper,
            "links": arxiv_links(paper),
            "submission": submission,
            "similar": similar,
            "similar_sort": similar_sort,
            "collections": collections,
            "holding": holding,
            "is_arxiv": is_arxiv_id(paper.id),
            **discussion,
            **claiming,
            **cited,  # CITATIONS: cited by, venue, references, citing works
        },
    )


def _similar(
    engine: Engine, searcher: Searcher | None, paper_id: str, limit: int = 6, sort: str = "relevance"
) -> list[Card]:
    if searcher is None:
        return []
    try:
        hits = similar_papers(engine=engine, searcher=searcher, paper_id=paper_id, limit=limit, sort=sort).hits
    except Exception:  # noqa: BLE001 - similar papers are a bonus: the page still renders
        log.exception("similar papers for %s failed", paper_id)
        return []
    return [Card(h.paper, score=h.score, reason=h.reason) for h in hits]  # reason: why it is related


@router.post("/papers/{paper_id:path}/vote")
def vote(
    request: Request,
    paper_id: str,
    engine: StoreDep,
    user: VerifiedUser,
    action: Annotated[Literal["up", "down"], Form()] = "up",
    next: Annotated[str | None, Form()] = None,
) -> Response:  # noqa: A002 - the form field's name
    """Upvote (``action=up``) or take the vote back (``action=down``); one vote per member and paper."""
    outcome = cast_vote(engine=engine, user_id=user.id, paper_id=paper_id, up=action == "up")
    if outcome is None:
        raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"id": outcome.paper_id, "upvotes": outcome.upvotes, "voted": outcome.voted})
    return RedirectResponse(safe_next(next, paper_url(outcome.paper_id)), status_code=303)


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
