"""Find the arXiv record of papers that came without an arXiv id, by exact title, and adopt it.

Papers from HF pages, BibTeX files or pasted submissions carry a derived ``pf-`` id: no authors or
categories for some, no arXiv/PDF links for any. ``enrich_pending`` asks the arXiv API (``PAPERFEED_ARXIV_API_URL``,
through the polite client: paced, retried) for each title with ``search_query=ti:"..."`` and accepts a
result only when

- its title equals the paper's after normalisation (case, punctuation, whitespace, LaTeX accents and
  macros, Unicode accents: :func:`title_key`), and
- when the paper lists authors, at least one surname appears on both author lists.

One such result: ``resolved`` (the paper takes the arXiv id, authors, dates, categories and links; see
:mod:`paperfeed.store.paper_merge`). Several different papers: ``ambiguous``, nothing changes. None:
``not_found``. Both outcomes are remembered, so later runs skip the paper unless ``retry``. A network
failure leaves the paper untouched (``failed``) and stops the run: the rest is tried next time.
A title that only contains another ("2D Matryoshka Sentence Embeddings" and "Matryoshka Representation
Learning") is never a match.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.ids import normalise_title
from paperfeed.ingest.arxiv_atom import parse_atom_bytes
from paperfeed.ingest.http import ArxivUnavailable, PoliteClient
from paperfeed.models import Paper
from paperfeed.store.paper_merge import adopt_arxiv_record, papers_missing_arxiv_id, remember_attempt
from paperfeed.text import latex_accents, title_key

log = logging.getLogger("paperfeed.enrich")
Outcome = Literal["resolved", "ambiguous", "not_found", "failed"]
MAX_RESULTS = 25  # candidates per title: a phrase query also returns longer titles containing it


@dataclass
class EnrichResult:
    id: str
    title: str
    outcome: Outcome
    arxiv_id: str | None = None
    reason: str = ""


@dataclass
class EnrichReport:
    results: list[EnrichResult] = field(default_factory=list)
    error: str | None = None  # why the run stopped early (arXiv unreachable), if it did

    def ids(self, outcome: Outcome) -> list[str]:
        return [r.id for r in self.results if r.outcome == outcome]

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {k: len(self.ids(k)) for k in ("resolved", "ambiguous", "not_found", "failed")}
        out["papers"] = [
            {"id": r.id, "title": r.title, "outcome": r.outcome, "arxiv_id": r.arxiv_id, "reason": r.reason}
            for r in self.results
        ]
        out["error"] = self.error
        return out


def surname(name: str) -> str:
    """``"Kusupati, Aditya"`` and ``"Aditya Kusupati"`` -> ``"kusupati"`` (normalised like titles)."""
    text = latex_accents(name)
    last = text.split(",", 1)[0] if "," in text else (text.split() or [""])[-1]
    return normalise_title(last)


def authors_overlap(a: list[str], b: list[str]) -> bool:
    return bool({surname(n) for n in a} & {surname(n) for n in b} - {""})


def search_query(title: str) -> str:
    """``ti:"words of the title"``: punctuation dropped (quotes and operators would break the query)."""
    return f'ti:"{title_key(title)}"'


def choose(paper: Paper, candidates: list[Paper]) -> tuple[Outcome, Paper | None, str]:
    """The one candidate that is ``paper``, or why none is."""
    key = title_key(paper.title)
    same_title = {c.id: c for c in candidates if title_key(c.title) == key}
    if not same_title:
        return "not_found", None, f"no arXiv title equals this one ({len(candidates)} results)"
    if paper.authors:
        matching = {i: c for i, c in same_title.items() if authors_overlap(paper.author_names, c.author_names)}
        if not matching:
            return "not_found", None, "same title on arXiv, but no author in common"
    else:
        matching = same_title
    if len(matching) > 1:
        return "ambiguous", None, "several arXiv papers: " + ", ".join(sorted(matching))
    return "resolved", next(iter(matching.values())), ""


def lookup(client: PoliteClient, settings: Settings, paper: Paper) -> list[Paper]:
    """arXiv API results for the paper's title; raises ArxivUnavailable, or ValueError for an API error."""
    params = {"search_query": search_query(paper.title), "start": "0", "max_results": str(MAX_RESULTS)}
    resp = client.get(settings.arxiv_api_url, params=params)
    page = parse_atom_bytes(resp.content, name=settings.arxiv_api_url)
    if page.errors or resp.status_code >= 400:
        raise ValueError("; ".join(page.errors) or f"HTTP {resp.status_code} {resp.reason_phrase}")
    return [item for item in page.items if isinstance(item, Paper)]


def _settle(engine: Engine, paper: Paper, candidates: list[Paper]) -> EnrichResult:
    outcome, found, reason = choose(paper, candidates)
    with engine.begin() as conn:
        if found is None:
            remember_attempt(conn=conn, paper_id=paper.id, outcome=outcome)
            return EnrichResult(paper.id, paper.title, outcome, reason=reason)
        stored = adopt_arxiv_record(conn=conn, paper_id=paper.id, record=found)
        if stored is None:  # the arXiv id is stored as a paper with another title: never merge those
            remember_attempt(conn=conn, paper_id=paper.id, outcome="ambiguous")
            why = f"{found.id} is stored with a different title; not merged"
            return EnrichResult(paper.id, paper.title, "ambiguous", found.id, why)
    return EnrichResult(paper.id, paper.title, "resolved", found.id)


def enrich_pending(
    *,
    engine: Engine,
    settings: Settings,
    limit: int | None = None,
    retry: bool = False,
    client: PoliteClient | None = None,
    on_paper: Callable[[EnrichResult], None] | None = None,
) -> EnrichReport:
    """Look up papers without an arXiv id (at most ``limit``; with ``retry`` also those tried before)."""
    with engine.connect() as conn:
        pending = papers_missing_arxiv_id(conn=conn, limit=limit, include_tried=retry)
    report = EnrichReport()
    http = client or PoliteClient.from_settings(settings)
    try:
        for paper in pending:
            try:
                result = _settle(engine, paper, lookup(http, settings, paper))
            except ArxivUnavailable as exc:  # unreachable: the rest would fail too, stop here
                result = EnrichResult(paper.id, paper.title, "failed", reason=str(exc))
                report.error = str(exc)
            except ValueError as exc:  # the API refused this query: try the others
                result = EnrichResult(paper.id, paper.title, "failed", reason=f"arXiv API error: {exc}")
            report.results.append(result)
            if on_paper is not None:
                on_paper(result)
            if report.error:
                break
    finally:
        if client is None:
            http.close()
    return report


BACKGROUND_BATCH = 100  # papers looked up per follow round (about 5 minutes at arXiv's 3 s pacing)


def enrich_in_background(*, engine: Engine, settings: Settings, keep_going: Callable[[], None]) -> EnrichReport | None:
    """One round for ``paperfeed serve --follow``: up to ``BACKGROUND_BATCH`` papers never tried before.

    ``keep_going`` is called after each paper and raises to stop (the follow lease was lost, the server is
    stopping). Every outcome is one log line; nothing here stops the site or the follower. None if it failed.
    """

    def step(_result: EnrichResult) -> None:
        keep_going()

    try:
        report = enrich_pending(engine=engine, settings=settings, limit=BACKGROUND_BATCH, on_paper=step)
    except Exception as exc:  # noqa: BLE001 - the lease was lost, or the database failed: try next round
        log.warning("arXiv enrich stopped: %s", exc)
        return None
    if report.error:
        log.warning("arXiv enrich stopped: %s; the rest waits for the next round", report.error)
    if report.results:
        counts = report.as_dict()
        log.info(
            "arXiv enrich: %s resolved, %s ambiguous, %s not found, %s failed",
            counts["resolved"],
            counts["ambiguous"],
            counts["not_found"],
            counts["failed"],
        )
    return report
