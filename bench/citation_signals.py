"""Similar papers with and without the citation signals on cacm-cites, half of each paper's links hidden.

    .venv/bin/python bench/citation_signals.py                          # MiniLM, the shipped weights
    .venv/bin/python bench/citation_signals.py --model none             # words only (faster)
    .venv/bin/python bench/citation_signals.py --grid                   # a few weight settings
    .venv/bin/python bench/citation_signals.py --dir ../shared/eval/cacm-cites --json

Protocol and caveats: :mod:`paperfeed.evaluation.citations`. Prints NDCG@20 and Recall@100 of the hidden
half, before (fused text signals) and after (plus "cited together" / "shares references").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.evaluation.citations import run  # noqa: E402

GRID = [{"cocited": c, "coupled": c} for c in (0.5, 1.0, 2.0, 3.0, 4.0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared/eval/cacm-cites")
    ap.add_argument("--model", default="minilm", choices=["minilm", "static", "none"])
    ap.add_argument("--grid", action="store_true", help="try several co-citation weights")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.dir.is_dir():
        sys.exit(f"{args.dir}: no such folder (the cacm-cites set is not beside this checkout)")
    settings = Settings(_env_file=None, environment="test", seed_demo=False)  # type: ignore[call-arg]
    started = time.perf_counter()
    results = run(
        args.dir,
        settings=settings,
        model=None if args.model == "none" else args.model,
        weights=GRID if args.grid else None,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    if args.json:
        print(json.dumps([{"weights": w, **r} for w, r in results], indent=2))
    else:
        for w, r in results:
            print(f"weights {w}")
            for label in ("before", "after"):
                print(f"  {label:6} " + "  ".join(f"{k} {v}" for k, v in r[label].items()))
    print(f"took {time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
