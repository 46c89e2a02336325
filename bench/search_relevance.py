"""Calibrate the relevance rule: the cosine similarity a paper found only by meaning needs to be shown.

    .venv/bin/python bench/search_relevance.py                       # SciFact train (tuning) + Cranfield, CISI
    .venv/bin/python bench/search_relevance.py --models minilm,static --thresholds 0.2,0.25,0.3
    .venv/bin/python bench/search_relevance.py --sets scifact:train --models static-quick --thresholds 0.4,0.5

``static-quick`` is the interim static model a fresh instance answers with first (made from MiniLM's token
table, search/model_loader.py); ``static`` the distilled one. Every row but "none" includes the second
condition of the rule (the query has a known word: relevance.knows_a_word).

For each set and model it indexes the corpus (embeddings cached under --data-dir, as bench/eval_all.py), and
reports, for every threshold: nDCG@10 of dense and hybrid ranked by ``hybrid.rank`` with that
``min_similarity`` (the code search runs), the mean number of results a query shows, and the share of 300
random gibberish queries (seeded, 1-3 pseudo-words of 4-9 letters) that still show a result. Also the
distribution of the cosine similarity of judged-relevant papers and of the best paper for gibberish. The
threshold is chosen on SciFact *train* only: the lowest one at which no gibberish query shows anything by
meaning, provided nDCG@10 stays within 0.005 of the uncut ranking.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.evaluation.retrieval import build_indexes, load_beir, ndcg_at  # noqa: E402
from paperfeed.search import hybrid  # noqa: E402
from paperfeed.search.query import ParsedQuery  # noqa: E402

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
DEFAULT_SETS = "scifact:train,cran:test,cisi:test"
GIBBERISH = 300


def gibberish(n: int, seed: int = 12) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 9))) for _ in range(k))
        for k in (rng.randint(1, 3) for _ in range(n))
    ]


def quantiles(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    if not len(arr):
        return {}
    return {f"p{q}": round(float(np.percentile(arr, q)), 3) for q in (1, 5, 10, 25, 50, 95, 99, 100)}


def measure(spec: str, model: str, thresholds: list[float], settings: Settings, eval_dir: Path) -> dict[str, Any]:
    name, _, split = spec.partition(":")
    data = load_beir(eval_dir / name, split or "test")
    qids = [q for q in data.qrels if data.queries.get(q, "").strip()]
    noise = gibberish(GIBBERISH)
    with tempfile.TemporaryDirectory(prefix="paperfeed-relevance-") as tmp:
        lexical, dense, emb = build_indexes(data, Path(tmp), dense_model=model, settings=settings)
        qvecs = emb.encode([data.queries[q] for q in qids])
        nvecs = emb.encode(noise)
        rel_cos = [
            float(np.dot(dense.vector(d), qvecs[n]))
            for n, q in enumerate(qids)
            for d, r in data.qrels[q].items()
            if r > 0 and d in dense
        ]
        noise_top = [dense.search(v, 1)[1][0] for v in nvecs]
        weights = hybrid.weights_for(emb.name)  # static-quick: the static model's weights
        rows = []
        for threshold in [None, *thresholds]:
            row: dict[str, Any] = {"threshold": threshold}
            for mode in ("dense", "hybrid"):

                def ranked(text: str, vector: Any, mode: str = mode, threshold: float | None = threshold) -> Any:
                    parsed = ParsedQuery(raw=text, words=[text])
                    return hybrid.rank(
                        parsed,
                        mode=mode,
                        lexical=lexical,
                        dense=dense,
                        vector=vector,
                        weights=weights,
                        min_similarity=threshold,
                    )

                ndcg = shown = 0.0
                for n, q in enumerate(qids):
                    r = ranked(data.queries[q], qvecs[n])
                    ndcg += ndcg_at(r.ids, data.qrels[q])
                    shown += r.total
                row[f"{mode}_ndcg@10"] = round(ndcg / len(qids), 4)
                row[f"{mode}_mean_total"] = round(shown / len(qids), 1)
                hits = sum(bool(ranked(text, nvecs[n]).ids) for n, text in enumerate(noise))
                row[f"{mode}_gibberish_shown"] = round(hits / len(noise), 3)
            rows.append(row)
            print(f"  {spec} {model}: {json.dumps(row)}", file=sys.stderr, flush=True)
    return {"relevant_cosine": quantiles(rel_cos), "gibberish_best_cosine": quantiles(noise_top), "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=DEFAULT_SETS)
    ap.add_argument("--models", default="minilm")
    ap.add_argument("--thresholds", default="0.15,0.2,0.25,0.3,0.35,0.4")
    ap.add_argument("--eval-dir", default=str(SHARED_EVAL))
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DATA", "/tmp/paperfeed-bench/data"))
    args = ap.parse_args()
    settings = Settings(_env_file=None, data_dir=Path(args.data_dir), environment="test")  # type: ignore[call-arg]
    thresholds = [float(t) for t in args.thresholds.split(",")]
    out: dict[str, Any] = {}
    for spec in args.sets.split(","):
        for model in args.models.split(","):
            res = measure(spec, model, thresholds, settings, Path(args.eval_dir))
            out[f"{spec} {model}"] = res
            print(f"\n### {spec} ({model})\nrelevant papers' cosine: {res['relevant_cosine']}")
            print(f"best cosine for gibberish: {res['gibberish_best_cosine']}\n")
            print(
                "| threshold | dense nDCG@10 | dense mean total | dense gibberish shown | hybrid nDCG@10 "
                "| hybrid mean total | hybrid gibberish shown |"
            )
            print("|---|---|---|---|---|---|---|")
            for r in res["rows"]:
                print(
                    f"| {r['threshold'] if r['threshold'] is not None else 'none'} | {r['dense_ndcg@10']:.4f} | "
                    f"{r['dense_mean_total']} | {r['dense_gibberish_shown']:.3f} | {r['hybrid_ndcg@10']:.4f} | "
                    f"{r['hybrid_mean_total']} | {r['hybrid_gibberish_shown']:.3f} |"
                )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
