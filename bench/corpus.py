"""Synthetic paper corpora for the speed benchmark, recombined from real abstracts.

Every sentence and title comes from the BEIR sets in ``../shared/eval/`` (SciFact, Cranfield, CISI), so the
vocabulary, term frequencies and lengths are those of real scientific text; each generated paper takes a real
title (sometimes spliced with another) and 4 to 10 sentences drawn at random. Queries are the sets' real
queries. Deterministic for a given seed.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Za-z0-9(])|(?<=[a-z]) \. ")
_FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Claude",
    "Barbara",
    "Donald",
    "Edsger",
    "Frances",
    "John",
    "Karen",
    "Leslie",
    "Margaret",
    "Niklaus",
    "Radia",
    "Shafi",
    "Tim",
    "Yann",
    "Yoshua",
    "Fei-Fei",
    "Daphne",
    "Judea",
    "Li",
    "Wei",
    "Priya",
    "Kenji",
    "Olga",
    "Pierre",
    "Ines",
    "Mehmet",
    "Chiara",
]
_LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Shannon",
    "Liskov",
    "Knuth",
    "Dijkstra",
    "Allen",
    "McCarthy",
    "Sparck Jones",
    "Lamport",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Goldwasser",
    "Berners-Lee",
    "LeCun",
    "Bengio",
    "Li",
    "Koller",
    "Pearl",
    "Zhang",
    "Wang",
    "Sharma",
    "Tanaka",
    "Petrova",
    "Dubois",
    "Garcia",
    "Yilmaz",
    "Rossi",
]
_CATS = [
    "cs.CL",
    "cs.LG",
    "cs.IR",
    "cs.CV",
    "q-bio.NC",
    "q-bio.GN",
    "physics.flu-dyn",
    "physics.med-ph",
    "stat.ML",
    "cs.DL",
]


@dataclass
class SynthPaper:
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime


def _rows(path: Path) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:  # type: ignore[operator]
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_material(eval_dir: Path = SHARED_EVAL) -> tuple[list[str], list[str], list[str]]:
    """(titles, sentences, queries) from every BEIR set under ``eval_dir``."""
    titles: list[str] = []
    sentences: list[str] = []
    queries: list[str] = []
    for folder in sorted(p for p in eval_dir.iterdir() if p.is_dir()):
        corpus = next((folder / n for n in ("corpus.jsonl", "corpus.jsonl.gz") if (folder / n).exists()), None)
        if corpus is None:
            continue
        for row in _rows(corpus):
            title = " ".join(row.get("title", "").split()).rstrip(" .")
            if title:
                titles.append(title)
            text = " ".join(row.get("text", "").split())
            sentences.extend(s.strip() for s in _SENTENCE.split(text) if len(s.split()) >= 4)
        qpath = folder / "queries.jsonl"
        if qpath.exists():
            queries.extend(" ".join(r["text"].split()) for r in _rows(qpath) if r.get("text", "").strip())
    return titles, sentences, queries


def generate(n: int, seed: int = 13, eval_dir: Path = SHARED_EVAL) -> Iterator[SynthPaper]:
    """``n`` synthetic papers with ids ``bench-0000001``..., titles and abstracts recombined from real text."""
    titles, sentences, _ = load_material(eval_dir)
    rng = random.Random(seed)
    start = datetime(2015, 1, 1, tzinfo=UTC)
    for i in range(n):
        title = rng.choice(titles)
        if rng.random() < 0.5:  # splice two real titles so titles are not all duplicates
            words, other = title.split(), rng.choice(titles).split()
            cut = max(1, len(words) // 2)
            title = " ".join(words[:cut] + other[len(other) // 2 :])
        abstract = " ".join(rng.choice(sentences) for _ in range(rng.randint(4, 10)))
        authors = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(rng.randint(1, 5))]
        cats = rng.sample(_CATS, rng.randint(1, 2))
        yield SynthPaper(
            f"bench-{i:07d}",
            title,
            abstract,
            authors,
            cats,
            start + timedelta(minutes=rng.randint(0, 10 * 365 * 24 * 60)),
        )


def queries(count: int, seed: int = 7, eval_dir: Path = SHARED_EVAL) -> list[str]:
    """``count`` real queries (SciFact claims, Cranfield and CISI questions), shuffled."""
    _, _, found = load_material(eval_dir)
    rng = random.Random(seed)
    rng.shuffle(found)
    return [q[:300] for q in found[:count]]
