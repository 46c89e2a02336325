"""A paper's citations, from OpenAlex: "Cited by N" with a per-year chart, the venue, its references and the
works citing it, on the paper page and as ``GET /api/v1/papers/{id}/references`` and ``/citations``.

One data function (:func:`citation_list`) feeds both. Papers of this site link to their pages; outside works
show their title, year and a DOI link. Registered before ``api_v1`` (whose ``/papers/{id:path}`` would match
``.../references``). Until ``paperfeed citations`` has looked a paper up, the page and the API say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import Connection

from paperfeed.links import paper_url
from paperfeed.models import Paper
from paperfeed.store.citations import CitationFacts, CitedWork, citation_facts, citations_of, count_links, references_of
from paperfeed.store.papers import get_paper, get_papers
from paperfeed.web.api_v1 import papers_out
from paperfeed.web.deps import StoreDep
from paperfeed.web.schemas import CitationHitOut, CitationListOut, OutsideLinksOut, OutsideWorkOut
from paperfeed.web.urls import SiteSettingsDep

Relation = Literal["references", "citations"]
PAGE_LIST = 20  # entries of each list on the paper page (?cited=all: up to PAGE_ALL)
PAGE_ALL = 1000
CHART_YEARS = 10
NOT_FETCHED = "citations not fetched yet for this paper (an admin runs `paperfeed citations`)"
router = APIRouter(prefix="/api/v1", tags=["Paperfeed API v1"])


def doi_url(doi: str | None) -> str | None:
    """``https://doi.org/<doi>`` with the DOI percent-encoded (None without a DOI)."""
    return f"https://doi.org/{quote(doi, safe='/()._-;:')}" if doi else None


def openalex_url(openalex_id: str) -> str:
    return f"https://openalex.org/{quote(openalex_id)}"


@dataclass
class CitationEntry:
    """One work of a list: ``paper`` set when it is a paper of this site."""

    work: CitedWork
    paper: Paper | None

    @property
    def title(self) -> str:
        return self.paper.title if self.paper else (self.work.title or f"OpenAlex work {self.work.openalex_id}")

    @property
    def url(self) -> str | None:
        return paper_url(self.paper.id) if self.paper else doi_url(self.work.doi)


@dataclass
class CitationList:
    paper_id: str
    relation: Relation
    facts: CitationFacts | None
    total: int
    entries: list[CitationEntry]


def citation_list(*, conn: Connection, paper_id: str, relation: Relation, limit: int, offset: int) -> CitationList:
    """References or citing works of ``paper_id`` (most cited first), with the papers of this site loaded."""
    facts = citation_facts(conn=conn, paper_ids=[paper_id]).get(paper_id)
    refs, cites = count_links(conn=conn, paper_id=paper_id) if facts else (0, 0)
    fetch = references_of if relation == "references" else citations_of
    works = fetch(conn=conn, paper_id=paper_id, limit=limit, offset=offset) if facts else []
    papers = get_papers(conn=conn, ids=[w.paper_id for w in works if w.paper_id])
    entries = [CitationEntry(w, papers.get(w.paper_id) if w.paper_id else None) for w in works]
    return CitationList(paper_id, relation, facts, refs if relation == "references" else cites, entries)


def chart_bars(facts: CitationFacts | None, *, years: int = CHART_YEARS) -> list[dict[str, Any]]:
    """The per-year chart: the last ``years`` years up to the newest with citations, oldest first, each with
    its count and bar height in percent of the busiest year (gaps are years with none)."""
    if facts is None or not facts.counts_by_year:
        return []
    per_year = dict(facts.counts_by_year)
    last = max(per_year)
    first = max(min(per_year), last - years + 1)
    top = max(per_year.values()) or 1
    return [
        {"year": y, "count": per_year.get(y, 0), "height": round(100 * per_year.get(y, 0) / top, 1)}
        for y in range(first, last + 1)
    ]


def citation_context(*, conn: Connection, paper_id: str, show_all: bool = False) -> dict[str, Any]:
    """What the paper page shows: ``citations`` (facts, chart, both lists) or None before any fetch."""
    size = PAGE_ALL if show_all else PAGE_LIST
    refs = citation_list(conn=conn, paper_id=paper_id, relation="references", limit=size, offset=0)
    if refs.facts is None:
        return {"citations": None}
    cites = citation_list(conn=conn, paper_id=paper_id, relation="citations", limit=size, offset=0)
    return {
        "citations": {
            "facts": refs.facts,
            "bars": chart_bars(refs.facts),
            "references": refs,
            "citing": cites,
            "openalex": openalex_url(refs.facts.openalex_id),
            "show_all": show_all,
        }
    }


# ---------------------------------------------------------------- API


def _list_out(
    engine: Any, paper_id: str, relation: Relation, limit: int, offset: int, base_url: str
) -> CitationListOut:
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id) if len(paper_id) <= 200 else None
        if paper is None:
            raise HTTPException(404, f"no paper with this id: {paper_id[:100]!r}")
        found = citation_list(conn=conn, paper_id=paper.id, relation=relation, limit=limit, offset=offset)
        inside = papers_out(conn, [e.paper for e in found.entries if e.paper], base_url)
    by_id = {p.id: p for p in inside}
    data = []
    for e in found.entries:
        w = e.work
        shown: Any = (
            by_id[e.paper.id]
            if e.paper
            else OutsideWorkOut(
                title=w.title,
                year=w.year,
                doi=w.doi,
                links=OutsideLinksOut(doi=doi_url(w.doi), openalex=openalex_url(w.openalex_id)),
            )
        )
        data.append(
            CitationHitOut(paper=shown, openalex_id=w.openalex_id, cited_by_count=w.cited_by_count, year=w.year)
        )
    facts = found.facts
    return CitationListOut(
        id=paper.id,
        relation=relation,
        openalex_id=facts.openalex_id if facts else None,
        cited_by_count=facts.cited_by_count if facts else None,
        venue=facts.venue if facts else None,
        total=found.total,
        offset=offset,
        limit=limit,
        count=len(data),
        data=data,
        warning=None if facts else NOT_FETCHED,
    )


ListLimit = Annotated[int, Query(ge=1, le=200, description="works per page, 1 to 200")]
ListOffset = Annotated[int, Query(ge=0, le=100_000, description="works to skip")]


@router.get("/papers/{paper_id:path}/references", response_model=CitationListOut)
def references(
    paper_id: str, engine: StoreDep, settings: SiteSettingsDep, limit: ListLimit = 20, offset: ListOffset = 0
) -> CitationListOut:
    """The works this paper cites (OpenAlex, CC0), most cited first: papers of this site in full, outside works
    with ``id`` null, their title, year and DOI. ``warning`` says when citations were not fetched yet."""
    return _list_out(engine, paper_id, "references", limit, offset, settings.base_url)


@router.get("/papers/{paper_id:path}/citations", response_model=CitationListOut)
def citations(
    paper_id: str, engine: StoreDep, settings: SiteSettingsDep, limit: ListLimit = 20, offset: ListOffset = 0
) -> CitationListOut:
    """The works citing this paper (OpenAlex, CC0), most cited first, in the shape of ``/references``."""
    return _list_out(engine, paper_id, "citations", limit, offset, settings.base_url)
