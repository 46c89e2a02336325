"""The map of a paper's related work: ``/papers/{id}/graph`` (server-drawn SVG and the same works as a list)
and ``GET /api/v1/papers/{id}/graph`` (JSON). Both come from :func:`paperfeed.rank.citation_map.citation_map`.

Registered before ``api_v1`` and the pages (their ``/papers/{id:path}`` would swallow ``.../graph``).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from paperfeed.links import paper_url
from paperfeed.models import Paper
from paperfeed.rank.citation_map import CitationMap, citation_map, grouped
from paperfeed.store.papers import get_paper
from paperfeed.web.deps import CsrfProtected, StoreDep
from paperfeed.web.templating import render

router = APIRouter()
UNKNOWN_PAPER = "no paper with this id"


class GraphNodeOut(BaseModel):
    id: str = Field(description="the paper id for papers of this site, else the OpenAlex id")
    title: str
    year: int | None
    citations: int = Field(description="cited-by count (OpenAlex)")
    relation: Literal["paper", "reference", "citation", "co-cited", "coupled"]
    strength: int = Field(description="co-cited: citing works in common; coupled: shared references; else citations")
    openalex: str
    doi: str | None
    url: str | None = Field(description="the paper's page here, else its DOI or OpenAlex page")
    in_store: bool
    x: float
    y: float
    r: float


class GraphEdgeOut(BaseModel):
    source: str
    target: str
    kind: Literal["cites", "co-cited", "coupled"]
    weight: int


class GraphOut(BaseModel):
    id: str
    nodes: list[GraphNodeOut]
    edges: list[GraphEdgeOut]
    width: float
    height: float
    warning: str | None = None


def _load(engine: StoreDep, paper_id: str) -> tuple[Paper, CitationMap]:
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id) if len(paper_id) <= 200 else None
        if paper is None:
            raise HTTPException(404, f"{UNKNOWN_PAPER}: {paper_id[:100]!r}")
        return paper, citation_map(conn=conn, paper_id=paper.id, title=paper.title)


@router.get("/api/v1/papers/{paper_id:path}/graph", response_model=GraphOut, tags=["Paperfeed API v1"])
def graph_api(paper_id: str, engine: StoreDep) -> GraphOut:
    """The map of related work around a paper: the paper, its references, the papers citing it, and the
    papers most co-cited with it or sharing its references (at most 60 nodes, with layout positions), and
    the edges between them (``cites``: source cites target; ``co-cited`` / ``coupled``: from the paper, with
    ``weight`` the count). ``warning`` when the paper has no citation data yet."""
    paper, m = _load(engine, paper_id)
    return GraphOut(
        id=paper.id,
        nodes=[GraphNodeOut(**{k: getattr(n, k) for k in GraphNodeOut.model_fields}) for n in m.nodes],
        edges=[GraphEdgeOut(source=e.source, target=e.target, kind=e.kind, weight=e.weight) for e in m.edges],
        width=m.width,
        height=m.height,
        warning=m.warning,
    )


@router.get("/papers/{paper_id:path}/graph", include_in_schema=False, dependencies=[CsrfProtected])
def graph_page(request: Request, paper_id: str, engine: StoreDep) -> Response:
    """The map as an SVG (a click on a node opens the paper) with the same works listed below."""
    paper, m = _load(engine, paper_id)
    if paper.id != paper_id:
        return RedirectResponse(paper_url(paper.id) + "/graph", status_code=301)
    return render(
        request,
        "paper_graph.html",
        {"paper": paper, "map": m, "groups": grouped(m), "page_url": paper_url(paper.id)},
    )
