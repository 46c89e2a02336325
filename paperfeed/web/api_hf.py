"""Hugging Face-compatible papers API, so ``HfApi(endpoint="http://127.0.0.1:8000")`` works unchanged.

- ``GET /api/papers/search?q=&limit=``: ``HfApi.list_papers`` (daily-paper entries, best match first);
- ``GET /api/papers/{id}``: ``HfApi.paper_info`` (a flat paper object);
- ``GET /papers/{id}.md``: ``HfApi.read_paper`` (the paper page as Markdown);
- ``GET /api/daily_papers?date=|week=|month=&submitter=&sort=&p=&limit=``: ``HfApi.list_daily_papers``
  (``p`` is 0-based, as on the Hub);
- ``GET /papers/{id}/thumbnail.svg``: the card image the entries' ``thumbnail`` points to.

Field names and date formats are the Hub's (see :mod:`paperfeed.web.schemas`). Period and sort rules come
from :mod:`paperfeed.rank.daily`; a paper's daily entry is its member submission, else its publication.
"""

from __future__ import annotations

import textwrap
from datetime import date
from typing import Annotated, Any
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection

from paperfeed.errors import FieldError
from paperfeed.links import safe_url
from paperfeed.models import DailySort, Paper
from paperfeed.rank.daily import DailyEntry, PeriodError, daily_papers
from paperfeed.store.paper_facts import paper_facts
from paperfeed.store.papers import get_paper
from paperfeed.store.users import UserPublic
from paperfeed.web.deps import OptionalSearcher, SettingsDep, StoreDep
from paperfeed.web.listing import Entry, entries_for, field_error, search_query
from paperfeed.web.markdown import paper_markdown
from paperfeed.web.schemas import HfAuthor, HfDailyPaper, HfPaper, HfUser, hf_time
from paperfeed.web.urls import SiteSettingsDep, paper_url

router = APIRouter(tags=["Hugging Face-compatible"])
MAX_LIMIT = 100


def hf_user(who: UserPublic | None) -> HfUser | None:
    if who is None:
        return None
    return HfUser(user=who.username, fullname=who.display_name or who.username)


def hf_paper(entry: Entry) -> HfPaper:
    p = entry.paper
    return HfPaper(
        id=p.id,
        title=p.title,
        summary=p.abstract,
        authors=[HfAuthor(name=a.name) for a in p.authors],
        publishedAt=hf_time(p.published),  # null when unknown (demo papers): never an invented date
        upvotes=entry.upvotes,
        discussionId=p.id,
        submittedOnDailyAt=hf_time(entry.entered_at),
        submittedOnDailyBy=hf_user(entry.submitted_by),
        projectPage=safe_url(p.project_url),
        githubRepo=safe_url(p.code_url),
        ai_keywords=list(entry.keywords),
        numComments=entry.comments,
        citedByCount=entry.cited_by,
    )


def hf_daily(entry: Entry, base_url: str) -> HfDailyPaper:
    when = hf_time(entry.entered_at)
    return HfDailyPaper(
        paper=hf_paper(entry),
        publishedAt=when,
        submittedOnDailyAt=when,
        title=entry.paper.title,
        summary=entry.paper.abstract,
        thumbnail=paper_url(entry.paper.id, base_url) + "/thumbnail.svg",
        submittedBy=hf_user(entry.submitted_by),
        numComments=entry.comments,
    )


def _daily_entries(conn: Connection, rows: list[DailyEntry]) -> list[Entry]:
    """The entries of a daily list: its own upvotes, submissions and comments, with keyphrases and citation
    counts (:func:`paper_facts`)."""
    facts = paper_facts(conn, [e.paper.id for e in rows])
    return [
        Entry(
            e.paper,
            e.upvotes,
            e.submitted_at,
            e.submitted_by,
            e.num_comments,
            tuple(facts[e.paper.id].keywords),
            facts[e.paper.id].cited_by,  # CITATIONS: citedByCount
        )
        for e in rows
    ]


HfLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"papers per page, 1 to {MAX_LIMIT}")]


@router.get("/api/daily_papers", response_model=list[HfDailyPaper])
def list_daily_papers(
    engine: StoreDep,
    settings: SiteSettingsDep,
    day: Annotated[date | None, Query(alias="date", description="a day, YYYY-MM-DD")] = None,
    week: Annotated[str | None, Query(max_length=10, description="an ISO week, e.g. 2025-W09")] = None,
    month: Annotated[str | None, Query(max_length=7, description="a month, e.g. 2025-02")] = None,
    submitter: Annotated[str | None, Query(max_length=64, description="username of the submitter")] = None,
    sort: DailySort = "publishedAt",
    p: Annotated[int, Query(ge=0, le=10_000, description="page number, from 0")] = 0,
    limit: HfLimit = 50,
) -> list[HfDailyPaper]:
    """Daily papers of a day (default: the latest day with papers), an ISO week or a month."""
    try:
        with engine.connect() as conn:
            rows, _total = daily_papers(
                conn=conn,
                day=day,
                week=week,
                month=month,
                submitter=submitter,
                sort=sort,
                offset=p * limit,
                limit=limit,
            )
            entries = _daily_entries(conn, rows)
    except PeriodError as exc:
        raise field_error(exc.field, str(exc)) from exc
    return [hf_daily(e, settings.base_url) for e in entries]


@router.get("/api/papers/search", response_model=list[HfDailyPaper])
def search_papers(
    request: Request,
    engine: StoreDep,
    settings: SiteSettingsDep,
    searcher: OptionalSearcher,
    q: Annotated[str, Query(max_length=1000, description="search query")] = "",
    limit: HfLimit = 50,
) -> list[HfDailyPaper]:
    """Papers matching ``q`` (the query language of ``/search``), best first; no ``q``: the latest papers."""
    if not q.strip():
        with engine.connect() as conn:
            rows, _ = daily_papers(conn=conn, limit=limit)
            entries = _daily_entries(conn, rows)
        return [hf_daily(e, settings.base_url) for e in entries]
    if searcher is None:
        raise HTTPException(503, "search is not available on this instance")
    try:
        results = searcher.answer(search_query(q=q, cats=[], limit=limit))
    except FieldError as exc:
        raise field_error(exc.field, str(exc)) from exc
    except ValueError as exc:  # QueryError: a malformed query
        raise field_error("q", str(exc)) from exc
    with engine.connect() as conn:
        entries = entries_for(conn, [h.paper for h in results.hits])
    return [hf_daily(e, settings.base_url) for e in entries]


def _load(engine: Any, paper_id: str) -> tuple[Paper, Entry]:
    if len(paper_id) > 200:
        raise HTTPException(404, "no such paper")
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id)
        if paper is None:
            raise HTTPException(404, f"no paper {paper_id[:100]!r}")
        return paper, entries_for(conn, [paper])[0]


@router.get("/papers/{paper_id:path}/thumbnail.svg", include_in_schema=False)
def thumbnail(paper_id: str, engine: StoreDep, settings: SettingsDep) -> Response:
    """A 1200x630 card with the title and first authors (all text XML-escaped)."""
    paper, _ = _load(engine, paper_id)
    title_lines = textwrap.wrap(paper.title, 38)[:5]
    authors = ", ".join(paper.author_names[:4]) + (" et al." if len(paper.authors) > 4 else "")
    texts = [
        f'<text x="60" y="{150 + 70 * i}" font-size="56" font-weight="700">{xml_escape(line)}</text>'
        for i, line in enumerate(title_lines)
    ]
    texts.append(f'<text x="60" y="560" font-size="30" fill="#555">{xml_escape(authors[:90])}</text>')
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630">'
        '<rect width="1200" height="630" fill="#fdfcf8"/><g font-family="sans-serif" fill="#111">'
        f'<text x="60" y="70" font-size="28" fill="#a33">{xml_escape(settings.site_name)}</text>'
        + "".join(texts)
        + "</g></svg>"
    )
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "public, max-age=3600",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


@router.get(
    "/papers/{paper_id:path}.md",
    response_class=Response,
    tags=["Hugging Face-compatible"],
    responses={200: {"content": {"text/markdown": {}}}},
)
def read_paper(paper_id: str, engine: StoreDep, settings: SiteSettingsDep) -> Response:
    """The paper page as Markdown (``HfApi.read_paper``); titles and abstracts are escaped, never HTML."""
    paper, entry = _load(engine, paper_id)
    page = paper_url(paper.id, settings.base_url)
    text = paper_markdown(
        paper, page_url=page, upvotes=entry.upvotes, submitted_at=entry.submitted_at, submitted_by=entry.submitted_by
    )
    return Response(text, media_type="text/markdown; charset=utf-8")


@router.get("/api/papers/{paper_id:path}", response_model=HfPaper)
def paper_info(paper_id: str, engine: StoreDep) -> HfPaper:
    """One paper (``HfApi.paper_info``): arXiv id, or any id Paperfeed knows; 404 when unknown."""
    _, entry = _load(engine, paper_id)
    return hf_paper(entry)
