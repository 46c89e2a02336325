"""More quality ideas for hybrid search, measured beside the shipped ranking (nDCG@10), for docs/decisions.md.

    .venv/bin/python bench/search_ideas_more.py --sets scifact:train          # tune here only
    .venv/bin/python bench/search_ideas_more.py --sets cran:test,cisi:test    # then check, never tune

Each side is retrieved once per query (lexical and MiniLM 200 deep; embeddings cached under --data-dir as in
bench/eval_all.py), then re-ranked under each idea with the fusion ``hybrid.rank`` uses (z-score, 1/1):

- ``lex-prf D/T/L``: lexical pseudo-relevance feedback (RM3-style): the T terms with the highest weight
  ``sum_d w_d * tf(t, d) / |d| * idf(t)`` over the D best BM25 papers (``w_d``: BM25 score / best score),
  added to the query with boost L x weight / best weight; BM25 searched again, then fused;
- ``rm3 D/T/L``: the same without the idf factor (classic RM3 term weights);
- ``static3 w``: the interim static model's neighbours as a third list with weight w;
- ``title w``: MiniLM cosine of the query with the title alone, mixed in the dense score with weight w;
- ``tail-max``: for abstracts longer than MiniLM reads (256 word pieces), the later part embedded as a
  passage and the dense score the max of whole-paper and passage cosine;
- ``rrf k`` / ``minmax w``: other normalisations (reciprocal rank, min-max) for comparison.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import tantivy

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ideas_common import DEPTH, Side, arguments, bench_settings, print_table, retrieved  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.analyze import analyse  # noqa: E402
from paperfeed.search.fusion import convex, convex_z, rrf  # noqa: E402
from paperfeed.search.lexical_query import scored  # noqa: E402
from paperfeed.search.query import ParsedQuery  # noqa: E402

TAIL_WORDS = 150  # MiniLM reads 256 word pieces, about 180 words: the passage starts a little before that


def top(ids: list[str], sims: np.ndarray, k: int = DEPTH) -> Side:
    order = np.argsort(-sims)[:k]
    return [ids[i] for i in order], [float(sims[i]) for i in order]


class LexPrf:
    """RM3-style expansion terms from the best BM25 papers, searched with the index's own BM25."""

    def __init__(self, lexical: Any, corpus: list[tuple[str, str, str]]) -> None:
        self.lexical = lexical
        self.tf = {i: Counter(analyse(f"{t} {x}")) for i, t, x in corpus}
        df: Counter[str] = Counter()
        for c in self.tf.values():
            df.update(c.keys())
        n = len(corpus)
        self.idf = {t: math.log(n / d) for t, d in df.items()}

    def terms(self, query: str, first: Side, docs: int, count: int, idf: bool = True) -> dict[str, float]:
        ids, scores = first[0][:docs], first[1][:docs]
        if not ids:
            return {}
        best = scores[0] or 1.0
        own = set(analyse(query))
        weight: Counter[str] = Counter()
        for pid, s in zip(ids, scores, strict=True):
            tf = self.tf[pid]
            size = sum(tf.values()) or 1
            for t, n in tf.items():
                if t not in own and self.idf[t] > 0:
                    weight[t] += (s / best) * n / size * (self.idf[t] if idf else 1.0)
        picked = weight.most_common(count)
        hi = picked[0][1] if picked else 1.0
        return {t: w / hi for t, w in picked}

    def search(self, query: str, extra: dict[str, float], boost: float) -> Side:
        lex = self.lexical
        schema = lex._schema
        subs = scored(schema, ParsedQuery(raw=query, words=[query]))
        for t, w in extra.items():
            q = tantivy.Query.term_query(schema, "abstract", t)
            subs.append((tantivy.Occur.Should, tantivy.Query.boost_query(q, boost * w)))
        if not subs:
            return [], []
        searcher = lex._searcher()
        res = searcher.search(tantivy.Query.boolean_query(subs), DEPTH, count=False)
        return [searcher.doc(a)["id"][0] for _, a in res.hits], [float(s) for s, _ in res.hits]


def tail_passages(corpus: list[tuple[str, str, str]], tokenizer: Any) -> dict[str, str]:
    """The later part of each abstract MiniLM truncates (title + words from TAIL_WORDS on)."""
    out = {}
    for i, t, x in corpus:
        words = x.split()
        if len(words) > TAIL_WORDS and len(tokenizer.encode(f"{t}. {x}").ids) > 256:
            out[i] = f"{t}. {' '.join(words[TAIL_WORDS:])}"
    return out


def run(spec: str, settings: Settings, eval_dir: Path, heavy: bool, only: list[str]) -> dict[str, float]:
    with retrieved(spec, settings, eval_dir) as r:
        data, qids, lexical, lex, sem = r.data, r.qids, r.lexical, r.lex, r.sem
        ids = [i for i, _, _ in data.corpus]
        qtexts = [data.queries[q] for q in qids]
        ideas = r.baseline()
        for k in (5, 10, 20):
            ideas[f"rrf {k}"] = lambda q, n, k=k: rrf([lex[q], sem[q]], [1.0, 1.0], k=k)[0]
        for w in (0.6, 0.8, 1.0):
            ideas[f"minmax {w}"] = lambda q, n, w=w: convex([lex[q], sem[q]], [1.0, w])[0]
        prf = LexPrf(lexical, data.corpus)
        expanded: dict[tuple[str, int, int, float], Side] = {}

        def lex_prf(q: str, docs: int, terms: int, boost: float) -> Side:
            key = (q, docs, terms, boost)
            if key not in expanded:
                extra = prf.terms(data.queries[q], lex[q], docs, terms)
                expanded[key] = prf.search(data.queries[q], extra, boost)
            return expanded[key]

        def rm3(q: str, docs: int, terms: int, boost: float) -> Side:
            key = (q + "\x00rm3", docs, terms, boost)
            if key not in expanded:
                extra = prf.terms(data.queries[q], lex[q], docs, terms, idf=False)
                expanded[key] = prf.search(data.queries[q], extra, boost)
            return expanded[key]

        for docs, terms, boost in ((10, 10, 0.1), (10, 10, 0.3), (10, 20, 0.2)):
            tag = f"{docs}/{terms}/{boost}"
            ideas[f"rm3 {tag} (bm25 only)"] = lambda q, n, a=(docs, terms, boost): rm3(q, *a)[0]
            ideas[f"rm3 {tag}"] = lambda q, n, a=(docs, terms, boost): convex_z([rm3(q, *a), sem[q]], [1, 1])[0]
        for docs, terms, boost in (
            (10, 10, 0.1),
            (3, 10, 0.3),
            (5, 10, 0.3),
            (10, 10, 0.3),
            (5, 20, 0.3),
            (5, 10, 0.6),
            (5, 10, 1.0),
        ):
            tag = f"{docs}/{terms}/{boost}"
            ideas[f"lex-prf {tag} (bm25 only)"] = lambda q, n, a=(docs, terms, boost): lex_prf(q, *a)[0]
            ideas[f"lex-prf {tag}"] = lambda q, n, a=(docs, terms, boost): convex_z([lex_prf(q, *a), sem[q]], [1, 1])[0]
        if heavy:
            add_model_ideas(ideas, data, ids, qids, qtexts, lex, sem, settings, r.emb)
        baseline = ("bm25", "dense", "shipped")
        return r.score(ideas, lambda label: not only or label in baseline or label.startswith(tuple(only)))


def add_model_ideas(
    ideas: dict[str, Callable[[str, int], list[str]]],
    data: Any,
    ids: list[str],
    qids: list[str],
    qtexts: list[str],
    lex: dict[str, Side],
    sem: dict[str, Side],
    settings: Settings,
    emb: Any,
) -> None:
    """Ideas that need more vectors: static third list, title vectors, tail passages."""
    from paperfeed.models import Paper
    from paperfeed.search.embed import EmbeddingCache, StaticEmbedder, cache_dir, minilm_path, paper_text
    from paperfeed.search.model_loader import quick_static_model

    static = EmbeddingCache(cache_dir(settings), StaticEmbedder(quick_static_model(settings)))
    texts = [paper_text(Paper(id=i, title=t, abstract=x)) for i, t, x in data.corpus]
    s_docs = static.encode(texts)
    s_q = static.encode(qtexts)
    s_side = {q: top(ids, s_docs @ s_q[n]) for n, q in enumerate(qids)}
    for w in (0.2, 0.4):
        ideas[f"static3 {w}"] = lambda q, n, w=w: convex_z([lex[q], sem[q], s_side[q]], [1.0, 1.0, w])[0]
    qvecs = emb.encode(qtexts)
    docs = emb.encode(texts)
    print(f"  titles: embedding {len(ids)}", file=sys.stderr, flush=True)
    titles = emb.encode([t or "untitled" for _, t, _ in data.corpus])
    for w in (0.15, 0.3):
        side = {q: top(ids, docs @ qvecs[n] + w * (titles @ qvecs[n])) for n, q in enumerate(qids)}
        ideas[f"title {w}"] = lambda q, n, side=side: convex_z([lex[q], side[q]], [1.0, 1.0])[0]
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_path(settings) / "tokenizer.json"))
    tokenizer.no_truncation()  # the file says 128; sentence-transformers reads 256 (sentence_bert_config.json)
    tails = tail_passages(data.corpus, tokenizer)
    print(f"  tail passages: {len(tails)} of {len(ids)} abstracts are truncated", file=sys.stderr, flush=True)
    if tails:
        t_ids = list(tails)
        t_vecs = emb.encode([tails[i] for i in t_ids])
        pos = {p: k for k, p in enumerate(ids)}
        rows = np.array([pos[i] for i in t_ids])
        for how in ("max", "mean"):

            def tail_side(n: int, how: str = how) -> Side:
                sims = docs @ qvecs[n]
                extra = t_vecs @ qvecs[n]
                sims[rows] = np.maximum(sims[rows], extra) if how == "max" else (sims[rows] + extra) / 2
                return top(ids, sims)

            side = {q: tail_side(n) for n, q in enumerate(qids)}
            ideas[f"tail-{how}"] = lambda q, n, side=side: convex_z([lex[q], side[q]], [1.0, 1.0])[0]


def main() -> None:
    ap = arguments(__doc__)
    ap.add_argument("--no-vectors", action="store_true", help="skip ideas that embed more text")
    ap.add_argument("--only", default="", help="comma-separated label prefixes to run (default: every idea)")
    args = ap.parse_args()
    settings = bench_settings(args)
    only = [o for o in args.only.split(",") if o]
    print_table(
        {spec: run(spec, settings, Path(args.eval_dir), not args.no_vectors, only) for spec in args.sets.split(",")}
    )


if __name__ == "__main__":
    main()
