"""Measuring the citation signals of similar papers on a citation set (``../shared/eval/cacm-cites`` layout),
with the links being evaluated hidden from the graph.

Protocol (hidden half): for each paper ``q`` with at least ``MIN_LINKS`` links, every other link (sorted) is
*visible* and the rest *hidden* (:func:`paperfeed.evaluation.related.split_library`). The citation graph is
every link of the set except ``q``'s hidden ones; ``q``'s similar papers are ranked over the whole corpus,
``q`` and its visible links left out (they are known), and scored against the hidden half: NDCG@20 and
Recall@100, for the fused text signals alone ("before") and with the citation signals ("after",
:func:`paperfeed.rank.citation_signals.rank_with_citations`, the product's function).

cacm-cites's links are undirected (one paper cites the other, or both are co-cited), so which of two linked
papers cites the other is unknown: co-citation and bibliographic coupling then both count the linked papers
two papers share. The measurement puts that count in the ``cocited`` tie and leaves ``coupled`` empty, so it is
not counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from paperfeed.config import Settings
from paperfeed.evaluation.related import LinkSet, indexed_links, split_library
from paperfeed.evaluation.retrieval import EvalError, ndcg_at, recall_at
from paperfeed.rank import citation_signals as cs

MIN_LINKS = 4  # two visible, two hidden at least
Log = Callable[[str], None]


def shared_links(links: dict[str, set[str]], q: str, hidden: set[str]) -> dict[str, int]:
    """Paper -> how many linked papers it shares with ``q`` in the graph without ``q``'s hidden links (a
    hidden partner still counts through a third paper linked to both)."""
    counts: dict[str, int] = {}
    for x in links.get(q, set()) - hidden:
        for other in links.get(x, ()):
            if other != q:
                counts[other] = counts.get(other, 0) + 1
    return counts


def evaluate(
    data: LinkSet, lexical: Any, dense: Any, *, model: str | None, weights: dict[str, float] | None = None
) -> dict[str, dict[str, float]]:
    """NDCG@20 and Recall@100 of the hidden half, before and after the citation signals."""
    anchors = sorted(q for q, rel in data.links.items() if len(rel) >= MIN_LINKS)
    if not anchors:
        raise EvalError(f"no paper has at least {MIN_LINKS} links: nothing to hide half of")
    rows: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with_ties = 0
    for q in anchors:
        visible, hidden = split_library(data.links[q])
        ties = cs.CitationTies(shared_links(data.links, q, set(hidden)), {})
        with_ties += bool(ties)
        known = {q, *visible}
        rel = dict.fromkeys(hidden, 1)
        for label, use in (("before", cs.CitationTies()), ("after", ties)):
            got = cs.rank_with_citations(
                data.papers[q], use, lexical=lexical, dense=dense, model=model, cut=False, citation_weights=weights
            )
            ids = [pid for pid in got.ids if pid not in known]
            rows[label].append({"ndcg@20": ndcg_at(ids, rel, 20), "recall@100": recall_at(ids, rel, 100)})
    out: dict[str, dict[str, float]] = {}
    for label, measured in rows.items():
        out[label] = {k: round(sum(r[k] for r in measured) / len(measured), 4) for k in ("ndcg@20", "recall@100")}
        out[label]["queries"] = len(measured)
    out["after"]["with_ties"] = with_ties
    return out


def run(
    folder: Path,
    *,
    settings: Settings,
    model: str | None = "minilm",
    weights: list[dict[str, float]] | None = None,
    log: Log | None = None,
) -> list[tuple[dict[str, float], dict[str, dict[str, float]]]]:
    """Index ``folder`` into a temporary folder and measure once per citation weight setting."""
    say = log or (lambda _msg: None)
    with indexed_links(folder, model=model, settings=settings, say=say, prefix="paperfeed-citations-") as indexed:
        data, lexical, dense = indexed
        results = []
        for w in weights or [dict(cs.WEIGHTS)]:
            say(f"ranking with citation weights {w}")
            results.append((w, evaluate(data, lexical, dense, model=model, weights=w)))
        return results
