"""Measuring similar papers and recommendations on a citation set (``../shared/eval/cacm-cites`` layout).

``corpus.jsonl`` (``_id``, ``title``, ``text``, optional ``metadata.authors``) and ``qrels/links.tsv``
(``query-id  corpus-id  score``): linked papers count as related. The corpus is indexed into a temporary
folder with the same classes as live search, and ranked by the same functions as the product
(:func:`paperfeed.rank.similar.rank_similar`, :func:`paperfeed.rank.recommend.rank_library`).

- similar papers: query = a paper with at least ``MIN_LINKS`` links, relevant = its links, the paper itself
  left out; NDCG@20 and Recall@100 for ``lexical``, ``dense`` and ``fused``;
- recommendations: for a paper with at least 4 links, every other link (sorted) is the library, the rest
  are hidden; the anchor paper and the library are left out; Recall@20 and NDCG@20 of the hidden half.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paperfeed.config import Settings
from paperfeed.rank import recommend as rec
from paperfeed.rank import similar as sim
from paperfeed.rank.signals import split_authors
from paperfeed.search.evaluate import EvalError, _CachedEmbedder, _jsonl, ndcg_at, recall_at
from paperfeed.search.lexical import LexicalDoc, LexicalIndex

MIN_LINKS = 3
SIMILAR_MODES: dict[str, Sequence[str]] = {
    "lexical": ("lexical",),
    "dense": ("dense",),
    "fused": sim.SIGNALS,
}
FORYOU_MODES: dict[str, Sequence[str]] = {
    "nearest": ("nearest",),
    "centroid": ("centroid",),
    "profile": ("profile",),
    "fused": rec.SIGNALS,
}
Log = Callable[[str], None]


@dataclass
class LinkSet:
    papers: dict[str, sim.Subject]
    links: dict[str, set[str]]


def load_links(folder: Path) -> LinkSet:
    """Read the corpus and ``qrels/links.tsv``; errors name the file and line."""
    folder = Path(folder)
    corpus = next((folder / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (folder / n).is_file()), None)
    if not folder.is_dir() or corpus is None:
        raise EvalError(f"{folder}: expected corpus.jsonl and qrels/links.tsv")
    papers: dict[str, sim.Subject] = {}
    for _, row in _jsonl(corpus):
        meta = row.get("metadata") if isinstance(row.get("metadata"), dict) else {}
        authors = split_authors(meta.get("authors") or "") if meta else []
        pid = str(row["_id"])
        papers[pid] = sim.Subject(pid, str(row.get("title") or ""), str(row.get("text") or ""), authors)
    qrels = folder / "qrels" / "links.tsv"
    if not qrels.is_file():
        raise EvalError(f"{qrels} is missing")
    links: dict[str, set[str]] = {}
    for n, line in enumerate(qrels.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if n == 1 or not parts:
            continue
        if len(parts) < 3:
            raise EvalError(f"{qrels}:{n}: expected query-id, corpus-id, score")
        if parts[0] != parts[1] and float(parts[2]) > 0 and parts[0] in papers and parts[1] in papers:
            links.setdefault(parts[0], set()).add(parts[1])
    return LinkSet(papers, links)


def build(data: LinkSet, folder: Path, *, model: str | None, settings: Settings) -> tuple[LexicalIndex, Any]:
    """The lexical index (authors included) and, with ``model``, the dense vectors of the corpus."""
    lexical = LexicalIndex.open(folder / "lexical")
    lexical.add(LexicalDoc(p.id, p.title, p.abstract, ", ".join(p.authors)) for p in data.papers.values())
    lexical.commit()
    if model is None:
        return lexical, None
    from paperfeed.models import Paper
    from paperfeed.search.dense import DenseIndex, text_hash
    from paperfeed.search.embed import paper_text

    embedder = _CachedEmbedder(settings, model)
    dense = DenseIndex.open(folder, model)
    dense.prepare(embedder)
    texts = [paper_text(Paper(id=p.id, title=p.title, abstract=p.abstract)) for p in data.papers.values()]
    dense.add(list(data.papers), embedder.encode(texts), [text_hash(t) for t in texts])
    dense.commit()
    return lexical, dense


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys() if rows else ()
    return {k: round(sum(r[k] for r in rows) / len(rows), 4) for k in keys}


def eval_similar(data: LinkSet, lexical: LexicalIndex, dense: Any, **options: Any) -> dict[str, dict[str, float]]:
    """NDCG@20 and Recall@100 of each mode over the papers with at least ``MIN_LINKS`` links."""
    queries = sorted(q for q, rel in data.links.items() if len(rel) >= MIN_LINKS)
    if not queries:
        raise EvalError(f"no paper has at least {MIN_LINKS} links")
    out: dict[str, dict[str, float]] = {}
    for mode, signals in SIMILAR_MODES.items():
        if dense is None and mode == "dense":
            continue
        rows = []
        for q in queries:
            ranked = sim.rank_similar(
                data.papers[q], lexical=lexical, dense=dense, signals=signals, cut=False, **options
            )
            rel = dict.fromkeys(data.links[q], 1)
            rows.append({"ndcg@20": ndcg_at(ranked.ids, rel, 20), "recall@100": recall_at(ranked.ids, rel, 100)})
        out[mode] = {**_mean(rows), "queries": len(rows)}
    return out


def split_library(links: set[str]) -> tuple[list[str], list[str]]:
    """Every other link (sorted) in the library, the rest hidden."""
    ordered = sorted(links)
    return ordered[::2], ordered[1::2]


def eval_foryou(data: LinkSet, lexical: LexicalIndex, dense: Any, **options: Any) -> dict[str, dict[str, float]]:
    """Recall@20 and NDCG@20 of the hidden half of each paper's links (see module docstring)."""
    anchors = sorted(q for q, rel in data.links.items() if len(rel) >= 4)
    if not anchors:
        raise EvalError("no paper has at least 4 links: nothing to hide half of")
    out: dict[str, dict[str, float]] = {}
    for mode, signals in FORYOU_MODES.items():
        if dense is None and mode in ("nearest", "centroid"):
            continue
        rows = []
        for q in anchors:
            library, hidden = split_library(data.links[q])
            seeds = [data.papers[i] for i in library]
            got = rec.rank_library(seeds, lexical=lexical, dense=dense, exclude={q}, signals=signals, **options)
            rel = dict.fromkeys(hidden, 1)
            rows.append({"recall@20": recall_at(got.ids, rel, 20), "ndcg@20": ndcg_at(got.ids, rel, 20)})
        out[mode] = {**_mean(rows), "libraries": len(rows)}
    return out


def run(
    folder: Path, *, which: str, settings: Settings, model: str | None = "minilm", log: Log | None = None
) -> dict[str, dict[str, float]]:
    """``which`` = "similar" or "foryou": index ``folder`` into a temporary folder and measure."""
    say = log or (lambda _msg: None)
    data = load_links(folder)
    if not data.links:
        raise EvalError(f"{folder}/qrels/links.tsv has no links between corpus papers")
    with tempfile.TemporaryDirectory(prefix="paperfeed-related-") as tmp:
        say(f"indexing {len(data.papers)} papers" + (f" (model {model})" if model else ""))
        lexical, dense = build(data, Path(tmp), model=model, settings=settings)
        say(f"ranking {which}")
        if which == "similar":
            return eval_similar(data, lexical, dense, model=model)
        return eval_foryou(data, lexical, dense, limit=100)
