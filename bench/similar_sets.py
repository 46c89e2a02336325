"""Similar-paper dev sets from retrieval benchmarks: documents relevant to the same query are related.

    .venv/bin/python bench/similar_sets.py /tmp/similar-sets          # cran, cisi, scifact (train) from ../shared/eval
    .venv/bin/python bench/similar_sets.py OUT --sets cran:test,cisi:test

For each BEIR set (``corpus.jsonl[.gz]``, ``qrels/SPLIT.tsv``) it writes ``OUT/<name>-coqrels/`` in
``paperfeed eval-similar``'s layout: ``corpus.jsonl`` (the whole corpus, unchanged) and ``qrels/links.tsv``
(``query-id  corpus-id  score``, both directions): two documents judged relevant (score > 0) to the same query
are linked, and the score is the number of queries they share, so ``eval-similar`` grades them (a pair
relevant to three common queries counts three times a pair relevant to one). Deterministic: the same input
gives byte-identical files. The sets derive from ``../shared``, so they are built, not shipped.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
DEFAULT_SETS = "cran:test,cisi:test,scifact:train"


def co_relevant(qrels: Path) -> Counter[tuple[str, str]]:
    """Pairs of documents relevant to the same query (each ordered pair), counted over queries."""
    by_query: dict[str, set[str]] = {}
    for n, line in enumerate(qrels.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if n == 1 or not parts:
            continue
        if len(parts) < 3:
            raise SystemExit(f"{qrels}:{n}: expected query-id, corpus-id, score")
        if float(parts[2]) > 0:
            by_query.setdefault(parts[0], set()).add(parts[1])
    pairs: Counter[tuple[str, str]] = Counter()
    for docs in by_query.values():
        for a, b in combinations(sorted(docs), 2):
            pairs[(a, b)] += 1
            pairs[(b, a)] += 1
    return pairs


def build(source: Path, split: str, out: Path) -> dict[str, int]:
    """Write one set; returns its size (documents, links, documents with at least 3 links)."""
    corpus = next((source / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (source / n).is_file()), None)
    if corpus is None:
        raise SystemExit(f"{source}: corpus.jsonl[.gz] is missing")
    qrels = source / "qrels" / f"{split}.tsv"
    if not qrels.is_file():
        raise SystemExit(f"{qrels} is missing")
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    opener = gzip.open if corpus.name.endswith(".gz") else open
    ids: set[str] = set()
    with opener(corpus, "rt", encoding="utf-8") as src, open(out / "corpus.jsonl", "w", encoding="utf-8") as dst:
        for line in src:
            if line.strip():
                ids.add(str(json.loads(line)["_id"]))
                dst.write(line if line.endswith("\n") else line + "\n")
    pairs = {p: c for p, c in co_relevant(qrels).items() if p[0] in ids and p[1] in ids}
    with open(out / "qrels" / "links.tsv", "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for (a, b), c in sorted(pairs.items()):
            fh.write(f"{a}\t{b}\t{c}\n")
    degree = Counter(a for a, _ in pairs)
    return {"documents": len(ids), "links": len(pairs), "with_3_links": sum(1 for d in degree.values() if d >= 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder to write the sets into (one subfolder per set)")
    ap.add_argument("--sets", default=DEFAULT_SETS, help=f"name:split list (default {DEFAULT_SETS})")
    ap.add_argument("--eval-dir", type=Path, default=SHARED_EVAL, help="where the BEIR sets are")
    args = ap.parse_args(argv)
    for spec in args.sets.split(","):
        name, _, split = spec.partition(":")
        target = args.out / f"{name}-coqrels"
        if target.exists():
            shutil.rmtree(target)
        size = build(args.eval_dir / name, split or "test", target)
        print(f"{target}: {json.dumps(size)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
