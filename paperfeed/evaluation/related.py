"""Measuring similar papers and recommendations on a citation set (``../shared/eval/cacm-cites`` layout).

``corpus.jsonl`` (``_id``, ``title``, ``text``, optional ``metadata.authors``) and ``qrels/links.tsv``
(``query-id  corpus-id  score``): linked papers count as related. The corpus is indexed into a temporary
folder with the same classes as live search, and ranked by the same functions as the product
(:func:`paperfeed.rank.similar.rank_similar`, :func:`paperfeed.rank.recommend.rank_library`).

- similar papers: query = a paper with at least ``MIN_LINKS`` links, relevant = its links (graded by the
  link's score: a set built from shared queries, ``bench/similar_sets.py``, counts the queries shared), the
  paper itself left out; NDCG@20 and Recall@100 for each signal alone (``lexical``: the product's BM25 of
  the paper's discriminative words; ``bm25``: a plain BM25 of its whole title and abstract; ``dense``), the
  naive baseline ``naive_rrf`` (RRF, k = 60, of ``bm25`` and ``dense``), and the product's ranking before
  (``fused``) and after (``fused_cut``) the no-padding cut;
- recommendations: for a paper with at least 4 links, every other link (sorted) is the library, the rest
  are hidden; the anchor paper and the library are left out; Recall@20 and NDCG@20 of the hidden half, for
  each signal, ``fused`` (what "for you" ranks) and ``naive_rrf`` (RRF, k = 60, of the cosine to the
  library's plain centroid and a plain BM25 of the library's words).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.config import Settings
from paperfeed.evaluation.retrieval import (
    EvalError,
    PlainBM25,
    _CachedEmbedder,
    _jsonl,
    naive_rrf,
    ndcg_at,
    recall_at,
)
from paperfeed.rank import recommend as rec
from paperfeed.rank import signals as sig
from paperfeed.rank import similar as sim
from paperfeed.rank.signals import split_authors
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
    grades: dict[str, dict[str, int]] = field(default_factory=dict)  # links' scores (1 when absent)

    def relevance(self, paper_id: str, among: set[str] | None = None) -> dict[str, int]:
        """Graded relevance of ``paper_id``'s links (only those in ``among`` when given)."""
        grades = self.grades.get(paper_id, {})
        return {d: grades.get(d, 1) for d in self.links[paper_id] if among is None or d in among}


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
    grades: dict[str, dict[str, int]] = {}
    for n, line in enumerate(qrels.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if n == 1 or not parts:
            continue
        if len(parts) < 3:
            raise EvalError(f"{qrels}:{n}: expected query-id, corpus-id, score")
        try:
            score = float(parts[2])
        except ValueError:
            raise EvalError(f"{qrels}:{n}: score {parts[2]!r} is not a number") from None
        if parts[0] != parts[1] and score > 0 and parts[0] in papers and parts[1] in papers:
            links.setdefault(parts[0], set()).add(parts[1])
            grades.setdefault(parts[0], {})[parts[1]] = max(1, round(score))
    return LinkSet(papers, links, grades)


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


def _text(p: sim.Subject) -> str:
    return f"{p.title} {p.abstract}"


def eval_similar(data: LinkSet, lexical: LexicalIndex, dense: Any, **options: Any) -> dict[str, dict[str, float]]:
    """NDCG@20 and Recall@100 of each ranking over the papers with at least ``MIN_LINKS`` links (see the
    module docstring); ``options`` go to :func:`paperfeed.rank.similar.rank_similar`."""
    queries = sorted(q for q, rel in data.links.items() if len(rel) >= MIN_LINKS)
    if not queries:
        raise EvalError(f"no paper has at least {MIN_LINKS} links")
    plain = PlainBM25([(p.id, _text(p)) for p in data.papers.values()])
    runs: dict[str, list[tuple[list[str], dict[str, int]]]] = {}
    for q in queries:
        rel = data.relevance(q)

        def add(name: str, ids: list[str], rel: dict[str, int] = rel) -> None:
            runs.setdefault(name, []).append((ids, rel))

        for mode, signals in SIMILAR_MODES.items():
            if dense is None and mode == "dense":
                continue
            ranked = sim.rank_similar(
                data.papers[q], lexical=lexical, dense=dense, signals=signals, cut=False, **options
            )
            add(mode, ranked.ids)
            if mode == "fused":
                shown = [pid for pid in ranked.ids if sim.shown(pid, ranked.raw, options.get("model"))]
                add("fused_cut", shown)
        words = plain.search(_text(data.papers[q]), sim.DEPTH, leave_out=q)
        add("bm25", words[0])
        if dense is not None:
            add("naive_rrf", naive_rrf(words, sig.dense_neighbours(dense, q, sim.DEPTH)))
    order = ("lexical", "bm25", "dense", "naive_rrf", "fused", "fused_cut")
    return {name: {**_similar_metrics(runs[name]), "queries": len(queries)} for name in order if name in runs}


def _similar_metrics(runs: list[tuple[list[str], dict[str, int]]]) -> dict[str, float]:
    return _mean([{"ndcg@20": ndcg_at(ids, rel, 20), "recall@100": recall_at(ids, rel, 100)} for ids, rel in runs])


def split_library(links: set[str]) -> tuple[list[str], list[str]]:
    """Every other link (sorted) in the library, the rest hidden."""
    ordered = sorted(links)
    return ordered[::2], ordered[1::2]


def _naive_foryou(library: list[sim.Subject], plain: PlainBM25, dense: Any, leave_out: set[str], k: int) -> list[str]:
    """The naive "for you" baseline: RRF (k = 60) of the cosine to the library's plain centroid (the mean of
    its unit vectors) and a plain BM25 of all the library's words; library and ``leave_out`` left out."""
    depth = k + len(leave_out)
    words = plain.search(" ".join(_text(p) for p in library), depth)
    vecs = list(sig.vectors_of(dense, [p.id for p in library]).values())
    near: tuple[list[str], list[float]] = ([], [])
    if vecs:
        centroid = np.mean(np.stack(vecs), axis=0)
        near = dense.search(centroid / max(float(np.linalg.norm(centroid)), 1e-9), depth)
    keep = [
        ([i for i in ids if i not in leave_out], [s for i, s in zip(ids, ss, strict=True) if i not in leave_out])
        for ids, ss in (words, near)
    ]
    return naive_rrf(keep[0], keep[1])[:k]


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
            rel = data.relevance(q, set(hidden))
            rows.append({"recall@20": recall_at(got.ids, rel, 20), "ndcg@20": ndcg_at(got.ids, rel, 20)})
        out[mode] = {**_mean(rows), "libraries": len(rows)}
    if dense is not None:
        plain = PlainBM25([(p.id, _text(p)) for p in data.papers.values()])
        rows = []
        for q in anchors:
            library, hidden = split_library(data.links[q])
            ids = _naive_foryou([data.papers[i] for i in library], plain, dense, {q, *library}, rec.DEPTH)
            rel = data.relevance(q, set(hidden))
            rows.append({"recall@20": recall_at(ids, rel, 20), "ndcg@20": ndcg_at(ids, rel, 20)})
        out["naive_rrf"] = {**_mean(rows), "libraries": len(rows)}
    return out


@contextmanager
def indexed_links(
    folder: Path, *, model: str | None, settings: Settings, say: Log, prefix: str
) -> Iterator[tuple[LinkSet, LexicalIndex, Any]]:
    """The linked corpus in ``folder`` and its indexes, built in a temporary folder removed afterwards."""
    data = load_links(folder)
    if not data.links:
        raise EvalError(f"{folder}/qrels/links.tsv has no links between corpus papers")
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        say(f"indexing {len(data.papers)} papers" + (f" (model {model})" if model else ""))
        lexical, dense = build(data, Path(tmp), model=model, settings=settings)
        yield data, lexical, dense


def run(
    folder: Path, *, which: str, settings: Settings, model: str | None = "minilm", log: Log | None = None
) -> dict[str, dict[str, float]]:
    """``which`` = "similar" or "foryou": index ``folder`` into a temporary folder and measure."""
    say = log or (lambda _msg: None)
    with indexed_links(folder, model=model, settings=settings, say=say, prefix="paperfeed-related-") as indexed:
        data, lexical, dense = indexed
        say(f"ranking {which}")
        if which == "similar":
            return eval_similar(data, lexical, dense, model=model)
        return eval_foryou(data, lexical, dense, limit=100)
