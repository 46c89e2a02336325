"""Paperfeed's own JSON API under ``/api/v1``: search with every option, papers, similar papers, upvotes,
the member's library and submissions.

Reads are open; writes, and papers like a text (``POST /similar``, a members' feature), take a personal
API token (``Authorization: Bearer pf_...``, made on the account page). Every parameter is bounded and
checked: a bad one answers 422 with a JSON body naming the field, in the shape of FastAPI's validation
errors (``{"error": "limit: ...", "detail": [{"field": "limit", ...}]}``).
Handlers only validate, call one service (the searcher, :mod:`paperfeed.store.votes`, :mod:`paperfeed.store.library`,
:mod:`paperfeed.community.submit`) and shape the answer with :mod:`paperfeed.web.schemas`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from sqlalchemy import Connection

from paperfeed.community.submit import SubmitError, submit_arxiv, submit_metadata
from paperfeed.community.votes import cast_vote
from paperfeed.errors import FieldError
from paperfeed.links import doi_url, safe_url
from paperfeed.models import Paper, SearchHit, SearchMode, SearchSort, SimilarSort
from paperfeed.rank.related import papers_like_text, similar_papers
from paperfeed.store.library import collections_for_user, library_add, library_list, library_remove, saved_ids
from paperfeed.store.paper_facts import PaperFacts, paper_facts
from paperfeed.store.papers import get_paper, get_papers
from paperfeed.store.users import User
from paperfeed.web.deps import ApiUser, OptionalSearcher, SearcherDep, StoreDep, VerifiedApiUser
from paperfeed.web.listing import field_error, search_query
from paperfeed.web.schemas import (
    AuthorOut,
    CollectionOut,
    LibraryChangeOut,
    LibraryOut,
    LinksOut,
    PaperOut,
    SearchHitOut,
    SearchOut,
    SimilarHitOut,
    SimilarOut,
    SimilarTextIn,
    SubmissionIn,
    SubmissionOut,
    SubmitterOut,
    VersionOut,
    VoteOut,
)
from paperfeed.web.urls import SiteSettingsDep, paper_url

router = APIRouter(prefix="/api/v1", tags=["Paperfeed API v1"])
MAX_LIMIT = 100
MAX_OFFSET = 10_000
UNKNOWN_PAPER = "no paper with this id"


def paper_out(paper: Paper, *, base_url: str, facts: PaperFacts | None = None) -> PaperOut:
    """The API view of a paper: metadata, links (only http(s)), upvotes and who submitted it."""
    page = paper_url(paper.id, base_url)
    facts = facts if facts is not None else PaperFacts()
    who = facts.submitted_by
    return PaperOut(
        id=paper.id,
        title=paper.title,
        abstract=paper.abstract,
        authors=[AuthorOut(name=a.name, affiliations=a.affiliations) for a in paper.authors],
        categories=paper.categories,
        primary_category=paper.primary_category,
        published=paper.published,
        updated=paper.updated,
        versions=[VersionOut(version=v.version, created=v.created) for v in paper.versions],
        journal_ref=paper.journal_ref,
        comments=paper.comments,
        license=paper.license,
        withdrawn=paper.withdrawn,
        links=LinksOut(
            page=page,
            markdown=page + ".md",
            abs=safe_url(paper.abs_url),
            pdf=safe_url(paper.pdf_url),
            doi=doi_url(paper.doi) if paper.doi else None,
            code=safe_url(paper.code_url),
            project=safe_url(paper.project_url),
        ),
        upvotes=facts.upvotes,
        submitted_at=facts.submitted_at,
        submitted_by=SubmitterOut(username=who.username, display_name=who.display_name) if who else None,
    )


def papers_out(conn: Connection, papers: list[Paper], base_url: str) -> list[PaperOut]:
    """:func:`paper_out` for each of ``papers``, their upvotes and submissions read at once."""
    facts = paper_facts(conn, [p.id for p in papers])
    return [paper_out(p, base_url=base_url, facts=facts[p.id]) for p in papers]


def hits_out(conn: Connection, hits: list[SearchHit], base_url: str) -> list[SearchHitOut]:
    papers = papers_out(conn, [h.paper for h in hits], base_url)
    return [
        SearchHitOut(
            paper=p,
            score=h.score,
            reason=h.reason,
            snippet=h.snippet.html(),
            lexical_rank=h.lexical_rank,
            semantic_rank=h.semantic_rank,
        )
        for p, h in zip(papers, hits, strict=True)
    ]


def _resolve(conn: Connection, paper_id: str) -> Paper:
    paper = get_paper(conn=conn, paper_id=paper_id) if len(paper_id) <= 200 else None
    if paper is None:
        raise HTTPException(404, f"{UNKNOWN_PAPER}: {paper_id[:100]!r}")
    return paper


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"results per page, 1 to {MAX_LIMIT}")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="results to skip")]


def _page_urls(request: Request, base: str, offset: int, limit: int, total: int) -> tuple[str | None, str | None]:
    """Links to the next and previous pages on ``base`` (``PAPERFEED_BASE_URL`` when set: never the Host
    header a client sent)."""
    url = request.url.remove_query_params("page")
    root = request.scope.get("root_path", "")
    path = url.path[len(root) :] if root and url.path.startswith(root) else url.path

    def at(new_offset: int) -> str:
        return f"{base.rstrip('/')}{path}?{url.include_query_params(offset=new_offset).query}"

    nxt = at(offset + limit) if offset + limit < total else None
    prev = at(max(offset - limit, 0)) if offset > 0 else None
    return nxt, prev


@router.get("/search", response_model=SearchOut)
def search(
    request: Request,
    engine: StoreDep,
    searcher: SearcherDep,
    settings: SiteSettingsDep,
    q: Annotated[
        str,
        Query(
            max_length=1000,
            description="query language, e.g. 'graph neural \"message passing\" -survey author:LeCun cat:cs.LG'",
        ),
    ] = "",
    mode: SearchMode = "hybrid",
    sort: SearchSort = "relevance",
    cat: Annotated[list[str], Query(description="category filter, repeatable")] = [],  # noqa: B006
    date_from: Annotated[date | None, Query(alias="from", description="published on/after")] = None,
    date_to: Annotated[date | None, Query(alias="to", description="published on/before")] = None,
    limit: Limit = 20,
    offset: Offset = 0,
    page: Annotated[int | None, Query(ge=1, le=MAX_OFFSET, description="1-based page; sets offset")] = None,
) -> SearchOut:
    """Search papers: query language, mode, sort, category and date filters, pagination, match reasons."""
    if page is not None:
        offset = (page - 1) * limit
        if offset > MAX_OFFSET:
            raise field_error("page", f"pages go up to offset {MAX_OFFSET}")
    with engine.connect() as conn:  # one connection for the whole request
        try:
            query = search_query(
                q=q,
                cats=cat,
                date_from=date_from,
                date_to=date_to,
                limit=limit,
                offset=offset,
                mode=mode,
                sort=sort,
                spell=True,  # "suggestion" (search/spelling.py)
            )
            results = searcher.answer(query, conn=conn)
        except FieldError as exc:
            raise field_error(exc.field, str(exc)) from exc
        except ValueError as exc:  # QueryError: the message says which part of the query
            raise field_error("q", str(exc)) from exc
        data = hits_out(conn, results.hits, settings.base_url)
    nxt, prev = _page_urls(request, settings.base_url, offset, limit, results.total)
    return SearchOut(
        query=q,
        mode=mode,
        sort=sort,
        categories=list(query.categories),
        date_from=date_from,
        date_to=date_to,
        total=results.total,
        offset=offset,
        limit=limit,
        count=len(data),
        data=data,
        next=nxt,
        prev=prev,
        warning=" ".join(w for w in (results.error, results.warning, results.hint) if w) or None,
        suggestion=results.suggestion,
        corrected=results.corrected,
    )


@router.get("/papers/{paper_id:path}/similar", response_model=SimilarOut)
def similar(
    paper_id: str,
    engine: StoreDep,
    searcher: SearcherDep,
    settings: SiteSettingsDep,
    limit: Annotated[int, Query(ge=1, le=50, description="papers, 1 to 50")] = 10,
    sort: Annotated[SimilarSort, Query(description="relevance, date (newest first) or upvotes")] = "relevance",
) -> SimilarOut:
    """Papers related to this one, best first, each with its ``reason``: "similar abstract", "same authors" or
    "members who saved this also saved". Only papers related enough are listed (there may be fewer);
    ``sort=date|upvotes`` reorders those same papers."""
    with engine.connect() as conn:
        paper = _resolve(conn, paper_id)
    try:
        found = similar_papers(engine=engine, searcher=searcher, paper_id=paper.id, limit=limit, sort=sort)
    except KeyError as exc:
        raise HTTPException(404, f"{paper.id} is not in the search index yet") from exc
    warning = " ".join(found.notes) or None  # what is degraded (vectors still being made...): never silent
    return _similar_out(engine, found.hits, settings.base_url, paper_id=paper.id, sort=sort, warning=warning)


@router.post("/similar", response_model=SimilarOut)
def similar_to_text(
    engine: StoreDep,
    searcher: SearcherDep,
    settings: SiteSettingsDep,
    user: ApiUser,
    body: Annotated[SimilarTextIn, Body()],
) -> SimilarOut:
    """Papers like a text (``{"text": "...", "limit": 10, "sort": "relevance"}``), in the shape of a paper's
    similar papers: the same ranking, the text standing in for the paper. ``warning`` says when the text was
    cut (the ranking reads its first 2,500 characters) or search is degraded. Needs an API token."""
    try:
        found = papers_like_text(engine=engine, searcher=searcher, text=body.text, limit=body.limit, sort=body.sort)
    except ValueError as exc:  # no words in the text
        raise field_error("text", str(exc), where="body") from exc
    return _similar_out(
        engine, found.hits, settings.base_url, paper_id=None, sort=body.sort, warning=" ".join(found.notes) or None
    )


def _similar_out(
    engine: Any, hits: list[SearchHit], base_url: str, *, paper_id: str | None, sort: str, warning: str | None = None
) -> SimilarOut:
    with engine.connect() as conn:
        papers = papers_out(conn, [h.paper for h in hits], base_url)
    data = [
        SimilarHitOut(paper=p, score=h.score, reason=h.reason, snippet=h.snippet.html())  # type: ignore[arg-type]
        for p, h in zip(papers, hits, strict=True)
    ]
    return SimilarOut(id=paper_id, sort=sort, count=len(data), data=data, warning=warning)  # type: ignore[arg-type]


def _vote(engine: Any, user: User, paper_id: str, up: bool) -> VoteOut:
    outcome = cast_vote(engine=engine, user_id=user.id, paper_id=paper_id, up=up)
    if outcome is None:
        raise HTTPException(404, f"{UNKNOWN_PAPER}: {paper_id[:100]!r}")
    return VoteOut(id=outcome.paper_id, upvotes=outcome.upvotes, voted=outcome.voted)


@router.post("/papers/{paper_id:path}/vote", response_model=VoteOut)
def upvote(paper_id: str, engine: StoreDep, user: VerifiedApiUser) -> VoteOut:
    """Upvote (one vote per member and paper: repeating it changes nothing)."""
    return _vote(engine, user, paper_id, True)


@router.delete("/papers/{paper_id:path}/vote", response_model=VoteOut)
def unvote(paper_id: str, engine: StoreDep, user: ApiUser) -> VoteOut:
    """Take the member's upvote back (no vote: nothing changes)."""
    return _vote(engine, user, paper_id, False)


@router.get("/papers/{paper_id:path}", response_model=PaperOut)
def paper(paper_id: str, engine: StoreDep, settings: SiteSettingsDep) -> PaperOut:
    """One paper by arXiv id (any version suffix) or Paperfeed id."""
    with engine.connect() as conn:
        return papers_out(conn, [_resolve(conn, paper_id)], settings.base_url)[0]


def _collection(conn: Connection, user: User, collection: int | None) -> CollectionOut | None:
    if collection is None:
        return None
    for c in collections_for_user(conn=conn, user_id=user.id):
        if c.id == collection:
            return CollectionOut(id=c.id, name=c.name, is_default=c.is_default, count=c.count)
    raise field_error("collection", f"you have no collection {collection}")


@router.get("/library", response_model=LibraryOut)
def library(
    engine: StoreDep,
    settings: SiteSettingsDep,
    user: ApiUser,
    collection: Annotated[int | None, Query(ge=1, description="one collection's id")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> LibraryOut:
    """The member's saved papers, most recently saved first: all of them or one collection."""
    with engine.connect() as conn:
        current = _collection(conn, user, collection)
        cols = [
            CollectionOut(id=c.id, name=c.name, is_default=c.is_default, count=c.count)
            for c in collections_for_user(conn=conn, user_id=user.id)
        ]
        ids = library_list(conn=conn, user_id=user.id, collection_id=collection, offset=offset, limit=limit)
        data = papers_out(conn, list(get_papers(conn=conn, ids=ids).values()), settings.base_url)
    return LibraryOut(collection=current, collections=cols, offset=offset, limit=limit, count=len(data), data=data)


@router.put("/library/{paper_id:path}", response_model=LibraryChangeOut)
def save(
    paper_id: str,
    engine: StoreDep,
    user: ApiUser,
    collection: Annotated[int | None, Query(ge=1, description="collection id; default: Saved")] = None,
) -> LibraryChangeOut:
    """Save a paper to the member's library (the default "Saved" collection, or ``collection``)."""
    with engine.begin() as conn:
        paper = _resolve(conn, paper_id)
        _collection(conn, user, collection)
        added = library_add(conn=conn, user_id=user.id, paper_id=paper.id, collection_id=collection)
    return LibraryChangeOut(id=paper.id, saved=True, changed=added, collection=collection)


@router.delete("/library/{paper_id:path}", response_model=LibraryChangeOut)
def unsave(
    paper_id: str,
    engine: StoreDep,
    user: ApiUser,
    collection: Annotated[int | None, Query(ge=1, description="only this collection")] = None,
) -> LibraryChangeOut:
    """Remove a paper from one collection, or (no ``collection``) from the whole library."""
    with engine.begin() as conn:
        paper = _resolve(conn, paper_id)
        _collection(conn, user, collection)
        removed = library_remove(conn=conn, user_id=user.id, paper_id=paper.id, collection_id=collection)
        still = bool(saved_ids(conn=conn, user_id=user.id, ids=[paper.id]))
    return LibraryChangeOut(id=paper.id, saved=still, changed=removed, collection=collection)


@router.post(
    "/submissions",
    response_model=SubmissionOut,
    status_code=201,
    responses={200: {"description": "the paper had already been submitted", "model": SubmissionOut}},
)
def submit(
    request: Request,
    response: Response,
    engine: StoreDep,
    settings: SiteSettingsDep,
    user: VerifiedApiUser,
    searcher: OptionalSearcher,
    body: Annotated[SubmissionIn, Body()],
) -> SubmissionOut:
    """Put a paper on today's daily list: ``{"arxiv": "2401.01234"}`` (fetched from arXiv) or pasted
    metadata ``{"title", "abstract", "authors": [...], "arxiv"?, "url"?, "code_url"?}``."""
    try:
        if body.title.strip() or body.abstract.strip() or body.authors:
            result = submit_metadata(
                engine=engine,
                settings=settings,
                user_id=user.id,
                title=body.title,
                abstract=body.abstract,
                authors=body.authors,
                arxiv=body.arxiv,
                url=body.url,
                code_url=body.code_url,
                searcher=searcher,
            )
        elif body.arxiv.strip():
            result = submit_arxiv(
                engine=engine, settings=settings, user_id=user.id, arxiv=body.arxiv, searcher=searcher
            )
        else:
            raise SubmitError("arxiv", "give an arXiv id, or the paper's title, abstract and authors")
    except SubmitError as exc:
        raise field_error(exc.field, str(exc), where="body") from exc
    if not result.created:
        response.status_code = 200
    with engine.connect() as conn:
        out = papers_out(conn, [_resolve(conn, result.paper_id)], settings.base_url)[0]
    return SubmissionOut(
        id=result.paper_id,
        created=result.created,
        submitted_at=result.submitted_at,
        submitted_by=result.submitted_by,
        paper=out,
    )
