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

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ideas_common import DEPTH, Side, arguments, bench_settings, print_table, retrieved  # noqa: E402

from paperfeed.config import Settings  # noqa: E402
from paperfeed.search.fusion import convex_z, zparams  # noqa: E402


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
    with retrieved(spec, settings, eval_dir) as r:
        data, dense, qvecs, lex, sem = r.data, r.dense, r.qvecs, r.lex, r.sem
        ideas = r.baseline()
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
        return r.score(ideas)


def main() -> None:
    args = arguments(__doc__).parse_args()
    settings = bench_settings(args)
    print_table({spec: run(spec, settings, Path(args.eval_dir)) for spec in args.sets.split(",")})


if __name__ == "__main__":
    main()
