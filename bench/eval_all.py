"""Search quality on every shared benchmark, and the tuning grid behind the chosen fusion constants.

    .venv/bin/python bench/eval_all.py          # every set x {minilm, static} x {bm25, dense, hybrid}
    .venv/bin/python bench/eval_all.py --sets scifact:train --models minilm
    .venv/bin/python bench/eval_all.py --tune   # the grid on SciFact train only (see docs/benchmarks.md)

Report mode calls :func:`paperfeed.evaluation.retrieval.evaluate` (the function behind ``paperfeed eval``) once per
set and model and prints a Markdown table, then one JSON document. Tune mode indexes SciFact *train* once and
re-ranks it under each setting (fusion, RRF k, weights, depth, lexical field boosts), so each setting takes
seconds. Embeddings are cached by content hash under ``--data-dir`` (the static model is distilled there on
first use, offline), so reruns do not embed again.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.evaluation.retrieval import (  # noqa: E402
    METRICS,
    EvalError,
    build_indexes,
    evaluate,
    load_beir,
    mrr_at,
    ndcg_at,
    recall_at,
)
from paperfeed.search import lexical_query  # noqa: E402
from paperfeed.search.fusion import get_fusion  # noqa: E402
from paperfeed.search.query import ParsedQuery  # noqa: E402

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
DEFAULT_SETS = "scifact:train,scifact:test,cran:test,cisi:test"
MODES = ["bm25", "dense", "hybrid"]


def settings_for(data_dir: str) -> Settings:
    return Settings(_env_file=None, data_dir=Path(data_dir), environment="test")  # type: ignore[call-arg]


def report(sets: list[str], models: list[str], settings: Settings, eval_dir: Path) -> dict[str, Any]:
    """``{set:split: {model: {mode: metrics}}}`` (an absent split is reported as skipped)."""
    out: dict[str, Any] = {}
    for spec in sets:
        name, _, split = spec.partition(":")
        split = split or "test"
        key = f"{name}:{split}"
        for model in models:
            started = time.perf_counter()
            tag = f"{key} {model}"
            try:
                res = evaluate(
                    eval_dir / name,
                    split=split,
                    modes=MODES,
                    settings=settings,
                    model=model,
                    log=lambda m, tag=tag: print(f"  {tag}: {m}", file=sys.stderr, flush=True),
                )
            except EvalError as exc:
                print(f"  {key}: skipped ({exc})", file=sys.stderr, flush=True)
                out[key] = {"skipped": str(exc)}
                break
            out.setdefault(key, {})[model] = res
            if "plain_bm25" not in out[key]:
                out[key]["plain_bm25"] = plain_bm25(eval_dir / name, split)
            print(
                f"  {key} {model}: {time.perf_counter() - started:.0f}s {json.dumps(res)}", file=sys.stderr, flush=True
            )
    return out


def plain_bm25(folder: Path, split: str) -> dict[str, float]:
    """The baseline: a plain BM25 (bm25s, Lucene variant, k1 1.5, b 0.75) over title + text, with Porter
    stemming and bm25s's English stop words, queries tokenised the same way (repeated words counted)."""
    import bm25s
    import Stemmer

    data = load_beir(folder, split)
    qids = [q for q in data.qrels if data.queries.get(q, "").strip()]
    ids = [i for i, _, _ in data.corpus]
    stemmer = Stemmer.Stemmer("porter")
    docs = bm25s.tokenize([f"{t} {x}" for _, t, x in data.corpus], stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(docs, show_progress=False)
    queries = bm25s.tokenize([data.queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False)
    found, _ = retriever.retrieve(queries, k=min(100, len(ids)), show_progress=False, n_threads=1)
    runs = {q: [ids[j] for j in found[n]] for n, q in enumerate(qids)}
    return _score(data, qids, runs)


def print_table(results: dict[str, Any]) -> None:
    print(
        "\n| set (split) | model | plain BM25 (bm25s) nDCG@10 / R@100 / MRR@10 | bm25 nDCG@10 / R@100 / MRR@10 "
        "| dense nDCG@10 / R@100 / MRR@10 | hybrid nDCG@10 / R@100 / MRR@10 |"
    )
    print("|---|---|---|---|---|---|")
    for key, by_model in results.items():
        if "skipped" in by_model:
            print(f"| {key} | - | not available: {by_model['skipped']} | | | |")
            continue
        plain = by_model.get("plain_bm25")
        base = " / ".join(f"{plain[x]:.3f}" for x in METRICS) if plain else "-"
        for model, res in by_model.items():
            if model == "plain_bm25":
                continue
            cells = [" / ".join(f"{res[m][x]:.3f}" for x in METRICS) for m in MODES]
            print(f"| {key} | {model} | {base} | " + " | ".join(cells) + " |")


# ---------------------------------------------------------------- tuning (SciFact train only)


def grid() -> list[dict[str, Any]]:
    """The fusion settings tried: ``hybrid.rank`` options."""
    out: list[dict[str, Any]] = []
    for k, w in itertools.product((5, 10, 20, 40, 60, 100), (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)):
        out.append({"fusion": "rrf", "rrf_k": k, "weights": (1.0, w)})
    for name, w in itertools.product(("convex", "convex_z"), (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5)):
        out.append({"fusion": name, "weights": (1.0, w)})
    return out


def _score(data: Any, qids: list[str], runs: dict[str, list[str]]) -> dict[str, float]:
    sums = dict.fromkeys(METRICS, 0.0)
    for q in qids:
        ids, rel = runs[q][:100], data.qrels[q]
        sums["ndcg@10"] += ndcg_at(ids, rel)
        sums["recall@100"] += recall_at(ids, rel)
        sums["mrr@10"] += mrr_at(ids, rel)
    return {m: round(v / len(qids), 4) for m, v in sums.items()}


def tune(
    settings: Settings, eval_dir: Path, model: str, boosts: list[float], depths: list[int]
) -> list[dict[str, Any]]:
    """Metrics of every (title boost, depth, fusion setting) on SciFact train, best nDCG@10 first.

    Each side is retrieved once per title boost, ``max(depths)`` deep (what ``hybrid.rank`` asks the indexes
    for, minus the query-language constraints a benchmark question does not have), then cut to each depth
    and fused with the same functions ``hybrid.rank`` calls, so a setting costs a fraction of a second."""
    data = load_beir(eval_dir / "scifact", "train")
    qids = [q for q in data.qrels if data.queries.get(q, "").strip()]
    rows: list[dict[str, Any]] = []
    default_boost = lexical_query.TITLE_BOOST
    with tempfile.TemporaryDirectory(prefix="paperfeed-tune-") as tmp:
        lex, dense, emb = build_indexes(data, Path(tmp), dense_model=model, settings=settings)
        vectors = emb.encode([data.queries[q] for q in qids])
        sem = {q: dense.search(vectors[n], max(depths)) for n, q in enumerate(qids)}
        print(f"dense ({model}): {_score(data, qids, {q: v[0] for q, v in sem.items()})}", file=sys.stderr)
        try:
            for boost in boosts:
                lexical_query.TITLE_BOOST = boost
                lexs = {
                    q: lex.search(ParsedQuery(raw=data.queries[q], words=[data.queries[q]]), max(depths)) for q in qids
                }
                bm25 = _score(data, qids, {q: v[0] for q, v in lexs.items()})
                print(f"bm25, title boost {boost}: {bm25}", file=sys.stderr, flush=True)
                for depth, opts in itertools.product(depths, grid()):
                    fuse = get_fusion(opts["fusion"])
                    kw = {"k": opts["rrf_k"]} if opts["fusion"] == "rrf" else {}
                    runs = {
                        q: fuse(
                            [(lexs[q][0][:depth], lexs[q][1][:depth]), (sem[q][0][:depth], sem[q][1][:depth])],
                            list(opts["weights"]),
                            **kw,
                        )[0]
                        for q in qids
                    }
                    rows.append(
                        {
                            **opts,
                            "depth": depth,
                            "title_boost": boost,
                            "bm25_ndcg@10": bm25["ndcg@10"],
                            **_score(data, qids, runs),
                        }
                    )
        finally:
            lexical_query.TITLE_BOOST = default_boost
    return sorted(rows, key=lambda r: -r["ndcg@10"])


def print_tuning(rows: list[dict[str, Any]], top: int) -> None:
    print("\n| fusion | rrf k | weights (lexical, dense) | depth | title boost | nDCG@10 | R@100 | MRR@10 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows[:top]:
        print(
            f"| {r['fusion']} | {r.get('rrf_k', '-')} | {tuple(r['weights'])} | {r['depth']} | "
            f"{r['title_boost']} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['mrr@10']:.4f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=DEFAULT_SETS, help="name:split pairs under --eval-dir")
    ap.add_argument("--models", default="minilm,static")
    ap.add_argument("--eval-dir", default=str(SHARED_EVAL))
    ap.add_argument(
        "--data-dir",
        default=os.environ.get("BENCH_DATA", "/tmp/paperfeed-bench/data"),
        help="embedding cache and static model folder",
    )
    ap.add_argument("--tune", action="store_true", help="run the tuning grid on SciFact train instead")
    ap.add_argument("--title-boosts", default="0.2,0.3,0.4,0.5", help="tune: lexical TITLE_BOOST values")
    ap.add_argument("--depths", default="100,200,400", help="tune: candidates per side")
    ap.add_argument("--json", dest="json_out", default="", help="also write the JSON to this file")
    args = ap.parse_args()
    settings = settings_for(args.data_dir)
    if args.tune:
        boosts = [float(b) for b in args.title_boosts.split(",")]
        rows = tune(
            settings, Path(args.eval_dir), args.models.split(",")[0], boosts, [int(d) for d in args.depths.split(",")]
        )
        print_tuning(rows, 30)
        doc: Any = rows
    else:
        doc = report(args.sets.split(","), args.models.split(","), settings, Path(args.eval_dir))
        print_table(doc)
    print(json.dumps(doc))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
