"""Retrieval evaluation on a BEIR folder: nDCG@10, Recall@100 and MRR@10 for bm25, dense and hybrid.

``evaluate(folder, split=..., modes=..., settings=...)`` indexes the corpus into a temporary folder with the
same classes and the same ranking function (:func:`paperfeed.search.hybrid.rank`) as live search, runs every
query (embedded in one batch, embeddings cached by content hash under the data dir) and averages the metrics
over the queries that have judgements in ``qrels/<split>.tsv``. Queries are read as plain text, not as the
query language (``to:`` in a benchmark question is just a word).
"""

from __future__ import annotations

import gzip
import json
import math
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.config import Settings
from paperfeed.models import Paper
from paperfeed.search import hybrid, relevance
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from paperfeed.search.query import ParsedQuery

METRICS = ("ndcg@10", "recall@100", "mrr@10")
Log = Callable[[str], None]


class EvalError(ValueError):
    """A benchmark folder that cannot be read; the message names the file and line."""


@dataclass
class BeirSet:
    corpus: list[tuple[str, str, str]]  # (id, title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise EvalError(f"{path}:{n}: not valid JSON ({exc})") from None
                if not isinstance(row, dict) or "_id" not in row:
                    raise EvalError(f'{path}:{n}: expected an object with an "_id" field')
                yield n, row
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: cannot read ({exc})") from None


def load_beir(folder: Path, split: str = "test") -> BeirSet:
    """Read ``corpus.jsonl[.gz]``, ``queries.jsonl[.gz]`` and ``qrels/<split>.tsv`` (with a header line)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvalError(f"{folder}: not a folder (expected BEIR layout: corpus.jsonl, queries.jsonl, qrels/)")

    def pick(stem: str) -> Path:
        for name in (f"{stem}.jsonl", f"{stem}.jsonl.gz"):
            if (folder / name).is_file():
                return folder / name
        raise EvalError(f"{folder}: {stem}.jsonl (or .jsonl.gz) is missing")

    corpus = [(str(r["_id"]), str(r.get("title") or ""), str(r.get("text") or "")) for _, r in _jsonl(pick("corpus"))]
    queries = {str(r["_id"]): str(r.get("text") or "") for _, r in _jsonl(pick("queries"))}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        found = sorted(p.stem for p in (folder / "qrels").glob("*.tsv")) if (folder / "qrels").is_dir() else []
        raise EvalError(f"{qrels_path} is missing (splits here: {', '.join(found) or 'none'})")
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.strip().split("\t") if "\t" in line else line.split()
        if n == 1 or not parts or not line.strip():
            continue  # header
        if len(parts) < 3:
            raise EvalError(f"{qrels_path}:{n}: expected query-id, corpus-id, score")
        try:
            score = int(float(parts[2]))
        except ValueError:
            raise EvalError(f"{qrels_path}:{n}: score {parts[2]!r} is not a number") from None
        qrels.setdefault(parts[0], {})[parts[1]] = score
    return BeirSet(corpus, queries, qrels)


# ------------------------------------------------------------------ metrics


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if rel.get(d, 0) > 0)
    ideal = sum(
        r / math.log2(i + 2) for i, r in enumerate(sorted((v for v in rel.values() if v > 0), reverse=True)[:k])
    )
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, v in rel.items() if v > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if rel.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


# ------------------------------------------------------------------ the naive baseline


class PlainBM25:
    """A plain BM25 (k1 1.2, b 0.75, Lucene's idf) over title + text as one field, with the index's analysis
    (stemming, stop words), a query word counted as often as it is repeated: the lexical half of the naive
    baseline the shipped rankings are held to (independent of the index's field boosts and term selection)."""

    K1, B = 1.2, 0.75

    def __init__(self, docs: list[tuple[str, str]]) -> None:
        from collections import Counter

        from paperfeed.search.analyze import analyse

        self.ids = [i for i, _ in docs]
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths = np.zeros(len(docs), dtype=np.float64)
        for n, (_, text) in enumerate(docs):
            counts = Counter(analyse(text))
            lengths[n] = sum(counts.values())
            for term, tf in counts.items():
                rows, tfs = postings.setdefault(term, ([], []))
                rows.append(n)
                tfs.append(tf)
        norm = self.K1 * (1 - self.B + self.B * lengths / max(float(lengths.mean()) if len(docs) else 1.0, 1e-9))
        n_docs = len(docs)
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (rows, tfs) in postings.items():
            r, freq = np.array(rows), np.array(tfs, dtype=np.float64)
            idf = math.log(1 + (n_docs - len(rows) + 0.5) / (len(rows) + 0.5))
            self._postings[term] = (r, idf * freq * (self.K1 + 1) / (freq + norm[r]))

    def search(self, text: str, k: int, *, leave_out: str | None = None) -> tuple[list[str], list[float]]:
        """The ``k`` best documents for ``text`` (``leave_out``: an id never returned), best first."""
        from collections import Counter

        from paperfeed.search.analyze import analyse

        scores = np.zeros(len(self.ids), dtype=np.float64)
        for term, qtf in Counter(analyse(text)).items():
            got = self._postings.get(term)
            if got is not None:
                scores[got[0]] += qtf * got[1]
        hits = np.flatnonzero(scores > 0)
        order = hits[np.lexsort((hits, -scores[hits]))]
        pairs = [(self.ids[j], float(scores[j])) for j in order[: k + 1] if self.ids[j] != leave_out][:k]
        return [i for i, _ in pairs], [s for _, s in pairs]


def naive_rrf(lexical: tuple[list[str], list[float]], dense: tuple[list[str], list[float]]) -> list[str]:
    """The naive baseline: reciprocal-rank fusion (k = 60, equal weights) of a lexical and a dense list."""
    from paperfeed.search.fusion import rrf

    return rrf([lexical, dense], k=60)[0]


# ------------------------------------------------------------------ running


QUICK_STATIC = "static-quick"  # the interim model a fresh instance answers with first (search/model_loader.py)


class _CachedEmbedder:
    """An embedder whose vectors come from DENSE's content-hash cache when already computed. ``model`` is a
    model name, or ``static-quick``: the static model made from MiniLM's token table."""

    def __init__(self, settings: Settings, model: str) -> None:
        from paperfeed.search.embed import EmbeddingCache, StaticEmbedder, cache_dir, get_embedder
        from paperfeed.search.model_loader import quick_static_model

        inner = StaticEmbedder(quick_static_model(settings)) if model == QUICK_STATIC else get_embedder(model, settings)
        self.name, self.dim, self.fingerprint = inner.name, inner.dim, inner.fingerprint
        self._cache = EmbeddingCache(cache_dir(settings), inner)

    def encode(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        return self._cache.encode(texts, batch_size=batch_size)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._cache.encode(texts)


def build_indexes(
    data: BeirSet, folder: Path, *, dense_model: str | None, settings: Settings
) -> tuple[LexicalIndex, Any, Any]:
    """Lexical index (and dense vectors when ``dense_model``) of the corpus under ``folder``."""
    lexical = LexicalIndex.open(folder / "lexical")
    lexical.add(LexicalDoc(i, t, x) for i, t, x in data.corpus)
    lexical.commit()
    if dense_model is None:
        return lexical, None, None
    from paperfeed.search.dense import DenseIndex, text_hash
    from paperfeed.search.embed import paper_text

    embedder = _CachedEmbedder(settings, dense_model)
    dense = DenseIndex.open(folder, dense_model)
    dense.prepare(embedder)
    texts = [paper_text(Paper(id=i, title=t, abstract=x)) for i, t, x in data.corpus]
    dense.add([i for i, _, _ in data.corpus], embedder.encode(texts), [text_hash(t) for t in texts])
    dense.commit()
    return lexical, dense, embedder


def _metrics(runs: list[tuple[list[str], dict[str, int]]]) -> dict[str, float]:
    sums = dict.fromkeys(METRICS, 0.0)
    for ids, rel in runs:
        sums["ndcg@10"] += ndcg_at(ids, rel)
        sums["recall@100"] += recall_at(ids, rel)
        sums["mrr@10"] += mrr_at(ids, rel)
    return {m: round(v / max(len(runs), 1), 4) for m, v in sums.items()}


def run_queries(
    data: BeirSet,
    modes: list[str],
    lexical: LexicalIndex,
    dense: Any,
    embedder: Any,
    *,
    baselines: bool = False,
    **rank_options: Any,
) -> dict[str, dict[str, float]]:
    """Mean metrics per mode over the judged queries (those with text). ``baselines`` (with vectors): also
    ``naive_rrf`` (:func:`naive_rrf` of :class:`PlainBM25` and the dense list, each ``hybrid.DEPTH`` deep) and
    ``<mode>_uncut`` for dense and hybrid (the same ranking without the relevance cut)."""
    qids = [q for q in data.qrels if data.queries.get(q, "").strip()]
    vectors = embedder.encode([data.queries[q] for q in qids]) if embedder is not None else None
    out: dict[str, dict[str, float]] = {}
    model = getattr(embedder, "name", None)
    if embedder is not None and "weights" not in rank_options:
        rank_options["weights"] = hybrid.weights_for(model)
    if embedder is not None and "min_similarity" not in rank_options:  # what users see (relevance.py)
        rank_options["min_similarity"] = relevance.min_similarity(model)
    baselines = baselines and vectors is not None and dense is not None
    runs: list[tuple[str, dict[str, Any]]] = [(mode, rank_options) for mode in modes]
    if baselines:
        uncut = {**rank_options, "min_similarity": None}
        runs += [(f"{mode}_uncut", uncut) for mode in modes if mode != "bm25"]
    for name, options in runs:
        mode = name.removesuffix("_uncut")
        got = []
        for n, q in enumerate(qids):
            parsed = ParsedQuery(raw=data.queries[q], words=[data.queries[q]])
            vec = vectors[n] if vectors is not None else None
            ids = hybrid.rank(parsed, mode=mode, lexical=lexical, dense=dense, vector=vec, **options).ids[:100]
            got.append((ids, data.qrels[q]))
        out[name] = _metrics(got)
    if baselines:
        assert vectors is not None
        plain = PlainBM25([(i, f"{t} {x}") for i, t, x in data.corpus])
        got = []
        for n, q in enumerate(qids):
            fused = naive_rrf(plain.search(data.queries[q], hybrid.DEPTH), dense.search(vectors[n], hybrid.DEPTH))
            got.append((fused[:100], data.qrels[q]))
        out["naive_rrf"] = _metrics(got)
    return out


def evaluate(
    folder: Path,
    *,
    split: str = "test",
    modes: list[str],
    settings: Settings,
    model: str = "minilm",
    log: Log | None = None,
) -> dict[str, dict[str, float]]:
    """Metrics for each of ``modes`` on the BEIR set in ``folder`` (see module docstring)."""
    say = log or (lambda _msg: None)
    data = load_beir(folder, split)
    if not data.qrels:
        raise EvalError(f"{folder}/qrels/{split}.tsv has no judgements")
    needs_dense = any(m != "bm25" for m in modes)
    with tempfile.TemporaryDirectory(prefix="paperfeed-eval-") as tmp:
        say(f"indexing {len(data.corpus)} documents" + (f" (model {model})" if needs_dense else ""))
        lexical, dense, embedder = build_indexes(
            data, Path(tmp), dense_model=model if needs_dense else None, settings=settings
        )
        say(f"running {len(data.qrels)} queries: {', '.join(modes)}")
        return run_queries(data, modes, lexical, dense, embedder, baselines=True)
