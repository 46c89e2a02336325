"""Quality ideas measured on the BEIR sets, beside the shipped ranking (nDCG@10), for docs/decisions.md.

    .venv/bin/python bench/search_ideas.py --sets scifact:train          # tune here only
    .venv/bin/python bench/search_ideas.py --sets cran:test,cisi:test    # then check, never tune

Each side is retrieved once per query (lexical 200 deep, MiniLM 200 deep, embeddings cached as in
bench/eval_all.py), then re-ranked under each idea with the functions ``hybrid.rank`` uses:

- ``shipped``: z-score fusion, weights 1/1 (what search runs);
- ``w=1.25`` etc.: other dense weights;
- ``znorm@N``: z-score statistics from each side's top N only;
- ``dense-prf b``: Rocchio feedback on the dense side: the query vector plus ``b`` x the mean vector of the
  3 best fused papers, searched again and fused again;
- ``qlen``: dense weight growing with the query's length (1.0 up to 12 words, 1.5 from 30).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.evaluate import build_indexes, load_beir, ndcg_at  # noqa: E402
from paperfeed.search.fusion import convex_z, zparams  # noqa: E402
from paperfeed.search.query import ParsedQuery  # noqa: E402

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
DEPTH = 200
Side = tuple[list[str], list[float]]


def znorm_top(lex: Side, sem: Side, n: int, w: float) -> list[str]:
    """z-scores with each side's mean and spread taken from its top ``n`` only."""
    out: dict[str, float] = {}
    sides = []
    for ids, scores in (lex, sem):
        mean, sd = zparams(scores[:n])
        z = {i: (s - mean) / sd for i, s in zip(ids, scores, strict=True)}
        sides.append((z, min(z.values(), default=0.0)))
    for pid in dict.fromkeys([*lex[0], *sem[0]]):
        out[pid] = sides[0][0].get(pid, sides[0][1]) + w * sides[1][0].get(pid, sides[1][1])
    return sorted(out, key=lambda p: -out[p])


def run(spec: str, settings: Settings, eval_dir: Path) -> dict[str, float]:
    name, _, split = spec.partition(":")
    data = load_beir(eval_dir / name, split or "test")
    qids = [q for q in data.qrels if data.queries.get(q, "").strip()]
    with tempfile.TemporaryDirectory(prefix="paperfeed-ideas-") as tmp:
        lexical, dense, emb = build_indexes(data, Path(tmp), dense_model="minilm", settings=settings)
        qvecs = emb.encode([data.queries[q] for q in qids])
        lex = {q: lexical.search(ParsedQuery(raw=data.queries[q], words=[data.queries[q]]), DEPTH) for q in qids}
        sem = {q: dense.search(qvecs[n], DEPTH) for n, q in enumerate(qids)}
        ideas: dict[str, Callable[[str, int], list[str]]] = {
            "bm25": lambda q, n: lex[q][0],
            "dense": lambda q, n: sem[q][0],
            "shipped": lambda q, n: convex_z([lex[q], sem[q]], [1.0, 1.0])[0],
        }
        for w in (0.8, 1.25, 1.5):
            ideas[f"w={w}"] = lambda q, n, w=w: convex_z([lex[q], sem[q]], [1.0, w])[0]
        for top in (20, 50, 100):
            ideas[f"znorm@{top}"] = lambda q, n, top=top: znorm_top(lex[q], sem[q], top, 1.0)

        def prf(q: str, n: int, b: float) -> list[str]:
            first = convex_z([lex[q], sem[q]], [1.0, 1.0])[0][:3]
            fb = np.mean([dense.vector(p) for p in first], axis=0)
            v = qvecs[n] + b * fb
            again = dense.search(v / np.linalg.norm(v), DEPTH)
            return convex_z([lex[q], again], [1.0, 1.0])[0]

        for b in (0.3, 0.6):
            ideas[f"dense-prf {b}"] = lambda q, n, b=b: prf(q, n, b)

        def qlen(q: str, n: int) -> list[str]:
            words = len(data.queries[q].split())
            w = 1.0 + 0.5 * min(max((words - 12) / 18, 0.0), 1.0)
            return convex_z([lex[q], sem[q]], [1.0, w])[0]

        ideas["qlen"] = qlen
        out = {}
        for label, fn in ideas.items():
            out[label] = round(sum(ndcg_at(fn(q, n), data.qrels[q]) for n, q in enumerate(qids)) / len(qids), 4)
            print(f"  {spec} {label}: {out[label]}", file=sys.stderr, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="scifact:train")
    ap.add_argument("--eval-dir", default=str(SHARED_EVAL))
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DATA", "/tmp/paperfeed-bench/data"))
    args = ap.parse_args()
    settings = Settings(_env_file=None, data_dir=Path(args.data_dir), environment="test")  # type: ignore[call-arg]
    res: dict[str, Any] = {spec: run(spec, settings, Path(args.eval_dir)) for spec in args.sets.split(",")}
    labels = list(next(iter(res.values())))
    print("\n| idea | " + " | ".join(res) + " |\n|---|" + "---|" * len(res))
    for label in labels:
        print(f"| {label} | " + " | ".join(f"{res[s][label]:.4f}" for s in res) + " |")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
