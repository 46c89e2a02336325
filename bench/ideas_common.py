"""What bench/search_ideas.py and bench/search_ideas_more.py share: the command line, one BEIR set with each
side retrieved once per query, the shipped ranking beside the ideas, nDCG@10 per idea, and the table."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.evaluation.retrieval import BeirSet, build_indexes, load_beir, ndcg_at  # noqa: E402
from paperfeed.search.fusion import convex_z  # noqa: E402
from paperfeed.search.query import ParsedQuery  # noqa: E402

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
DEPTH = 200
Side = tuple[list[str], list[float]]
Idea = Callable[[str, int], list[str]]  # (query id, query number) -> ranked paper ids


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """``--sets``, ``--eval-dir`` and ``--data-dir``; a script adds its own options."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="scifact:train")
    ap.add_argument("--eval-dir", default=str(SHARED_EVAL))
    ap.add_argument("--data-dir", default=os.environ.get("BENCH_DATA", "/tmp/paperfeed-bench/data"))
    return ap


def bench_settings(args: argparse.Namespace) -> Settings:
    return Settings(_env_file=None, data_dir=Path(args.data_dir), environment="test")  # type: ignore[call-arg]


@dataclass
class Retrieved:
    """One BEIR set with both sides retrieved ``DEPTH`` deep for every query that has judgements."""

    spec: str
    data: BeirSet
    qids: list[str]
    lexical: Any
    dense: Any
    emb: Any
    qvecs: np.ndarray
    lex: dict[str, Side]
    sem: dict[str, Side]

    def baseline(self) -> dict[str, Idea]:
        """Each side alone and the shipped fusion (z-score, weights 1/1)."""
        lex, sem = self.lex, self.sem
        return {
            "bm25": lambda q, n: lex[q][0],
            "dense": lambda q, n: sem[q][0],
            "shipped": lambda q, n: convex_z([lex[q], sem[q]], [1.0, 1.0])[0],
        }

    def score(self, ideas: dict[str, Idea], keep: Callable[[str], bool] = lambda label: True) -> dict[str, float]:
        """Mean nDCG@10 of each idea that ``keep`` lets through, printed to stderr as it comes."""
        out = {}
        for label, fn in ideas.items():
            if not keep(label):
                continue
            total = sum(ndcg_at(fn(q, n), self.data.qrels[q]) for n, q in enumerate(self.qids))
            out[label] = round(total / len(self.qids), 4)
            print(f"  {self.spec} {label}: {out[label]}", file=sys.stderr, flush=True)
        return out


@contextmanager
def retrieved(spec: str, settings: Settings, eval_dir: Path) -> Iterator[Retrieved]:
    """``spec`` is ``name:split`` (split defaults to test); the indexes live in a temporary folder."""
    name, _, split = spec.partition(":")
    data = load_beir(eval_dir / name, split or "test")
    qids = [q for q in data.qrels if data.queries.get(q, "").strip()]
    with tempfile.TemporaryDirectory(prefix="paperfeed-ideas-") as tmp:
        lexical, dense, emb = build_indexes(data, Path(tmp), dense_model="minilm", settings=settings)
        qvecs = emb.encode([data.queries[q] for q in qids])
        lex = {q: lexical.search(ParsedQuery(raw=data.queries[q], words=[data.queries[q]]), DEPTH) for q in qids}
        sem = {q: dense.search(qvecs[n], DEPTH) for n, q in enumerate(qids)}
        yield Retrieved(spec, data, qids, lexical, dense, emb, qvecs, lex, sem)


def print_table(res: dict[str, dict[str, float]]) -> None:
    """A Markdown table (an idea a row, a set a column), then the same figures as JSON."""
    labels = list(next(iter(res.values())))
    print("\n| idea | " + " | ".join(res) + " |\n|---|" + "---|" * len(res))
    for label in labels:
        print(f"| {label} | " + " | ".join(f"{res[s][label]:.4f}" for s in res) + " |")
    print(json.dumps(res))
