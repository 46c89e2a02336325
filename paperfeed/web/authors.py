"""Author pages, authorship claims and public profiles.

- ``GET /authors`` (``q``, ``p``): every author, most papers first, with a filter box; ``GET /api/v1/authors``
  the same as ``{"data": [{"name", "papers", "url"}], "count"}``;
- ``GET /authors/{name}``: the author's papers (newest first), co-authors, total upvotes;
- ``GET /api/v1/authors/{name}``: ``{"name", "papers": [...], "coauthors": [...], "upvotes"}`` (404: unknown);
- ``POST /papers/{id}/claim`` (``author``): a member claims to be that author; a moderator decides at
  ``GET /moderation/claims`` (``POST /moderation/claims/{id}/approve|reject``);
- ``GET /u/{username}``: a member's claimed papers, submissions and public collections.

Names are grouped by :mod:`paperfeed.authors` (the same words ``author:`` search matches).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.community import authors as svc
from paperfeed.community.comments import is_moderator
from paperfeed.links import paper_url
from paperfeed.store import authors as author_store
from paperfeed.web.api_v1 import papers_out
from paperfeed.web.deps import CsrfProtected, CurrentUser, OptionalUser, StoreDep, VerifiedUser
from paperfeed.web.page_params import Page
from paperfeed.web.schemas import PaperOut
from paperfeed.web.templating import render
from paperfeed.web.urls import SiteSettingsDep
from paperfeed.web.views import Card, decorate, page_links

router = APIRouter()
AUTHORS_PER_PAGE = 100
AuthorName = Annotated[str, Path(min_length=1, max_length=300)]


class CoAuthorOut(BaseModel):
    name: str
    papers: int = Field(description="papers written together")
    url: str = Field(description="the co-author's page")


class AuthorPageOut(BaseModel):
    name: str = Field(description="the name as most papers write it")
    papers: list[PaperOut] = Field(description="the author's papers, newest first")
    coauthors: list[CoAuthorOut] = Field(description="co-authors, most shared papers first")
    upvotes: int = Field(description="total upvotes of the author's papers")
    verified_members: list[str] = Field(default_factory=list, description="members with an approved claim")


def author_url(name: str) -> str:
    return "/authors/" + quote(name, safe="")


def _page(engine: StoreDep, name: str) -> svc.AuthorPage:
    with engine.connect() as conn:
        found = svc.author_page(conn=conn, name=name)
    if found is None:
        raise HTTPException(404, f"No paper here has an author named {name[:100]!r}.")
    return found


class AuthorCountOut(BaseModel):
    name: str = Field(description="the name as a paper writes it")
    papers: int = Field(description="papers with this author")
    url: str = Field(description="the author's page")


class AuthorsOut(BaseModel):
    data: list[AuthorCountOut] = Field(description="authors, most papers first")
    count: int = Field(description="authors matching ``q`` in all")


AuthorFilter = Annotated[str, Query(max_length=300, description="keep names holding every word of this")]


def _index(engine: StoreDep, q: str, p: int) -> tuple[list[author_store.AuthorCount], int]:
    with engine.connect() as conn:
        return author_store.authors_by_papers(
            conn=conn, contains=q, offset=(p - 1) * AUTHORS_PER_PAGE, limit=AUTHORS_PER_PAGE
        )


@router.get("/api/v1/authors", response_model=AuthorsOut, tags=["Authors"])
def authors_api(engine: StoreDep, q: AuthorFilter = "", p: Page = 1) -> AuthorsOut:
    """Every author, most papers first, 100 a page; ``q`` filters by name."""
    rows, total = _index(engine, q, p)
    return AuthorsOut(
        data=[AuthorCountOut(name=a.name, papers=a.papers, url=author_url(a.name)) for a in rows], count=total
    )


@router.get("/authors", include_in_schema=False)
@router.get("/authors/", include_in_schema=False)
def authors_html(request: Request, engine: StoreDep, q: AuthorFilter = "", p: Page = 1) -> Response:
    """The authors index: most papers first, with a filter box."""
    rows, total = _index(engine, q, p)
    pages = page_links("/authors", {"q": q}, p, AUTHORS_PER_PAGE, total)
    start = (p - 1) * AUTHORS_PER_PAGE + 1
    context = {"authors": rows, "total": total, "q": q, "pages": pages, "start": start, "tab": "authors"}
    return render(request, "authors.html", context)


@router.get("/api/v1/authors/{name:path}", response_model=AuthorPageOut, tags=["Authors"])
def author_api(name: AuthorName, engine: StoreDep, settings: SiteSettingsDep) -> AuthorPageOut:
    """An author's papers (newest first) and co-authors; names grouped as documented in docs/api.md."""
    page = _page(engine, name)
    with engine.connect() as conn:
        papers = papers_out(conn, page.papers, settings.base_url)
    return AuthorPageOut(
        name=page.name,
        papers=papers,
        coauthors=[CoAuthorOut(name=c.name, papers=c.papers, url=author_url(c.name)) for c in page.coauthors],
        upvotes=page.total_upvotes,
        verified_members=page.verified_members,
    )


@router.get("/authors/{name:path}", include_in_schema=False)
def author_html(request: Request, name: AuthorName, engine: StoreDep, user: OptionalUser) -> Response:
    page = _page(engine, name)
    with engine.connect() as conn:
        cards = decorate(conn, [Card(p) for p in page.papers], user)
    return render(request, "author.html", {"author": page, "cards": cards})


@router.post("/papers/{paper_id:path}/claim", include_in_schema=False, dependencies=[CsrfProtected])
def claim(
    paper_id: str, engine: StoreDep, user: VerifiedUser, author: Annotated[str, Form(max_length=300)]
) -> Response:
    """Claim authorship; the paper page then says the claim waits for a moderator."""
    try:
        with engine.begin() as conn:
            paper = svc.claim(conn=conn, user=user, paper_id=paper_id, author_name=author)
    except svc.ClaimError as exc:
        raise HTTPException(exc.status, str(exc)[:1].upper() + str(exc)[1:] + ".") from exc
    return RedirectResponse(paper_url(paper.id) + "?claimed=1", status_code=303)


@router.get("/moderation/claims", include_in_schema=False)
def claims_queue(request: Request, engine: StoreDep, user: OptionalUser) -> Response:
    if not is_moderator(user):
        raise HTTPException(403, "Only moderators can see authorship claims. Sign in with a moderator account.")
    with engine.connect() as conn:
        queue = svc.claims_queue(conn=conn)
    return render(request, "claims.html", {"queue": queue, "tab": "moderation"})


@router.post("/moderation/claims/{claim_id}/{decision}", include_in_schema=False, dependencies=[CsrfProtected])
def decide_claim(
    claim_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    decision: Annotated[str, Path(pattern="^(approve|reject)$")],
    engine: StoreDep,
    user: CurrentUser,
) -> Response:
    try:
        with engine.begin() as conn:
            svc.decide(conn=conn, moderator=user, claim_id=claim_id, approve=decision == "approve")
    except svc.ClaimError as exc:
        raise HTTPException(exc.status, str(exc)[:1].upper() + str(exc)[1:] + ".") from exc
    return RedirectResponse("/moderation/claims", status_code=303)


@router.get("/u/{username}", include_in_schema=False)
def profile(
    request: Request, username: Annotated[str, Path(max_length=100)], engine: StoreDep, user: OptionalUser
) -> Response:
    with engine.connect() as conn:
        found = svc.profile(conn=conn, username=username)
        if found is None:
            raise HTTPException(404, f"There is no member {username[:100]!r} here.")
        claimed = decorate(conn, [Card(p) for p in found.claimed], user)
        submitted = decorate(conn, [Card(p) for p in found.submitted], user)
    context = {"member": found.user, "claimed": claimed, "submitted": submitted, "collections": found.collections}
    return render(request, "profile.html", context)
