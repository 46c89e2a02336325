"""``GET /papers/{id}.bib``: a paper's BibTeX entry (arXiv's own form for arXiv papers; paperfeed/cite.py).

The paper page's Cite button copies it (or a plain reference) with ``static/community.js``; without
JavaScript the button is a link to this file."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

from paperfeed.cite import bibtex
from paperfeed.links import paper_url
from paperfeed.store.papers import get_paper
from paperfeed.web.deps import StoreDep

router = APIRouter()


@router.get("/papers/{paper_id:path}.bib", include_in_schema=False)
def paper_bibtex(paper_id: str, engine: StoreDep) -> Response:
    with engine.connect() as conn:
        paper = get_paper(conn=conn, paper_id=paper_id)
    if paper is None:
        raise HTTPException(404, f"There is no paper {paper_id[:100]!r} here.")
    if paper.id != paper_id:
        return RedirectResponse(paper_url(paper.id) + ".bib", status_code=301)
    headers = {"Content-Disposition": f'inline; filename="{paper.id.replace("/", "_")}.bib"'}
    return Response(bibtex(paper), media_type="application/x-bibtex; charset=utf-8", headers=headers)
