"""Citations as a similar-paper signal: "cited together" (co-citation) and "shares references" (bibliographic
coupling), added to :func:`paperfeed.rank.similar.rank_similar`'s fusion.

For a paper with citation data (:func:`paperfeed.store.citation_graph.citation_neighbours`), each candidate
gains ``WEIGHTS["cocited"] * log1p(N cited together)`` plus ``WEIGHTS["coupled"] * log1p(N shared
references)`` on top of its fused score (the same units as the author bonus); papers only the citation graph
reached enter at the lowest fused score before their bonus. A candidate is shown when the other signals
would show it, when at least ``MIN_COCITED`` papers cite both, or when it shares at least ``MIN_COUPLED``
references. Its reason: "same authors" still comes first, then "cited together with this paper by N papers",
then "shares N references", else the reason the other signals give.

A paper without citation data goes through :func:`rank_similar` exactly as before (the same call).
Weights were chosen on ``cacm-cites`` with half of each paper's links hidden (docs/search.md,
:mod:`paperfeed.evaluation.citations`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from paperfeed.rank import similar as sim
from paperfeed.store.citation_graph import citation_neighbours

WEIGHTS: dict[str, float] = {"cocited": 2.0, "coupled": 2.0}
MIN_COCITED = 1
MIN_COUPLED = 2
NEIGHBOURS = 100  # papers of each relation considered per paper


@dataclass
class CitationTies:
    """Paper id -> number of papers citing both (``cocited``) and of references shared (``coupled``)."""

    cocited: dict[str, int] = field(default_factory=dict)
    coupled: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.cocited or self.coupled)


def reason_cocited(n: int) -> str:
    return f"cited together with this paper by {n} paper{'' if n == 1 else 's'}"


def reason_coupled(n: int) -> str:
    return f"shares {n} reference{'' if n == 1 else 's'}"


def bonus(pid: str, ties: CitationTies, weights: dict[str, float] | None = None) -> float:
    """What the citation graph adds to a candidate's fused score."""
    w = {**WEIGHTS, **(weights or {})}
    return w["cocited"] * math.log1p(ties.cocited.get(pid, 0)) + w["coupled"] * math.log1p(ties.coupled.get(pid, 0))


def tied(pid: str, ties: CitationTies) -> bool:
    """Strong enough to show on its citations alone."""
    return ties.cocited.get(pid, 0) >= MIN_COCITED or ties.coupled.get(pid, 0) >= MIN_COUPLED


def reason_for(pid: str, ties: CitationTies, raw: dict[str, dict[str, float]], model: str | None) -> str:
    """Same authors first (the plainest fact), then the citation ties, else the other signals' reason."""
    if raw["authors"].get(pid, 0.0) > 0:
        return sim.REASON_AUTHORS
    if ties.cocited.get(pid, 0) >= MIN_COCITED:
        return reason_cocited(ties.cocited[pid])
    if ties.coupled.get(pid, 0) >= MIN_COUPLED or (pid in ties.coupled and not _candidate(pid, raw)):
        return reason_coupled(ties.coupled[pid])
    return sim.reason_for(pid, raw, model)


def _candidate(pid: str, raw: dict[str, dict[str, float]]) -> bool:
    """Whether the other signals reached ``pid`` at all."""
    return any(pid in got for got in raw.values())


def rank_with_citations(
    subject: sim.Subject,
    ties: CitationTies,
    *,
    model: str | None = None,
    cut: bool = True,
    limit: int | None = None,
    citation_weights: dict[str, float] | None = None,
    **options: Any,
) -> sim.Related:
    """:func:`paperfeed.rank.similar.rank_similar` (``options`` are its keywords) with the citation signals
    fused in; without ties, exactly ``rank_similar``."""
    ties = CitationTies(
        {k: v for k, v in ties.cocited.items() if k != subject.id},
        {k: v for k, v in ties.coupled.items() if k != subject.id},
    )
    if not ties:
        return sim.rank_similar(subject, model=model, cut=cut, limit=limit, **options)
    full = sim.rank_similar(subject, model=model, cut=False, limit=None, **options)
    score = dict(zip(full.ids, full.scores, strict=True))
    floor = min(score.values()) if score else 0.0
    for pid in (*ties.cocited, *ties.coupled):
        score.setdefault(pid, floor)
    for pid in score:
        score[pid] += bonus(pid, ties, citation_weights)
    out = sim.Related(raw=full.raw)
    for pid, value in sorted(score.items(), key=lambda x: (-x[1], x[0])):
        if cut and not (tied(pid, ties) or (pid in full.reasons and sim.shown(pid, full.raw, model))):
            continue
        out.ids.append(pid)
        out.scores.append(float(value))
        out.reasons[pid] = reason_for(pid, ties, full.raw, model)
        if limit is not None and len(out.ids) >= limit:
            break
    return out


def ties_of(*, conn: Connection, paper_id: str) -> CitationTies:
    """The citation ties of a stored paper to other papers of the store (empty without citation data)."""
    cocited, coupled = citation_neighbours(conn=conn, paper_id=paper_id, limit=NEIGHBOURS)
    return CitationTies(cocited, coupled)
