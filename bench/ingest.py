"""Ingest throughput of the Kaggle arXiv snapshot format into SQLite (target: >= 5,000 papers/s).

    .venv/bin/python bench/ingest.py [--lines 200000] [--batch-size 2000]

Generates a realistic snapshot file (field shapes and lengths like arxiv-metadata-oai-snapshot.json)
in a temporary directory, then measures, in the same run:
  1. baseline: reading the file and ``json.loads`` / ``orjson.loads`` of every line (the floor);
  2. parse only: ``parse_kaggle`` (decode, build and clean papers), nothing stored;
  3. end to end: ``ingest_paths`` into a fresh, migrated SQLite store (what ``paperfeed ingest`` does);
  4. re-ingest of the same file into that store (everything "unchanged").
Each line gives wall-clock and CPU time: on a shared machine the CPU figure is the code's own cost.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.config import Settings  # noqa: E402
from paperfeed.ingest.kaggle import parse_kaggle  # noqa: E402
from paperfeed.ingest.run import ingest_paths  # noqa: E402
from paperfeed.store.db import open_store  # noqa: E402

TARGET = 5_000
_WORDS = [
    "model",
    "learning",
    "neural",
    "network",
    "data",
    "training",
    "language",
    "transformer",
    "graph",
    "attention",
    "optimal",
    "quantum",
    "field",
    "theory",
    "spin",
    "lattice",
    "we",
    "propose",
    "show",
    "results",
    "method",
    "approach",
    "efficient",
    "robust",
    "large",
    "scale",
    "benchmark",
    "evaluation",
    "experiments",
    "analysis",
    "dynamics",
    "stochastic",
    "gradient",
    "bound",
    "convergence",
    "representation",
    "inference",
    "Bayesian",
    "sparse",
    "dense",
    "physics",
    "galaxy",
    "stellar",
]
_CATS = [
    "cs.CL",
    "cs.LG",
    "cs.AI",
    "cs.CV",
    "stat.ML",
    "math.OC",
    "hep-th",
    "hep-ph",
    "quant-ph",
    "astro-ph.GA",
    "cond-mat.str-el",
    "math.PR",
    "physics.flu-dyn",
]
_LAST = [
    "Smith",
    "Müller",
    "Wang",
    "Li",
    "Zhang",
    "Kumar",
    "García",
    "Rossi",
    "Nakamura",
    "Bal\\'azs",
    "Novák",
    "O'Brien",
    "Lee",
    "Chen",
    "Ivanov",
    "Dubois",
]
_FIRST = ["A.", "B.", "C.", "J.", "M.", "Maria", "Wei", "Hiroshi", "Ana", "E.", "L.", "Pavel", "Sofia", "R.", "K."]
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n))


def kaggle_line(rng: random.Random, i: int) -> dict[str, object]:
    """One realistic snapshot record with a unique id."""
    year, month = 15 + i // 90_000, 1 + i % 12
    pid = f"{year:02d}{month:02d}.{10_000 + i % 90_000:05d}"  # unique: (year, i % 90000)
    if i % 50 == 0:
        pid = f"hep-th/{i // 50:07d}"
    authors = [[rng.choice(_LAST), rng.choice(_FIRST), ""] for _ in range(rng.randint(1, 8))]
    versions = []
    for v in range(1, rng.randint(1, 3) + 1):
        day = 1 + (i + v) % 28
        versions.append(
            {
                "version": f"v{v}",
                "created": f"{_DAYS[(i + v) % 7]}, {day} "
                f"{_MONTHS[month - 1]} {2000 + year} {i % 24:02d}:{v * 7 % 60:02d}:42 GMT",
            }
        )
    cats = " ".join(rng.sample(_CATS, rng.randint(1, 3)))
    return {
        "id": pid,
        "submitter": " ".join(authors[0][1::-1]),
        "authors": ", ".join(f"{a[1]} {a[0]}" for a in authors),
        "title": _sentence(rng, rng.randint(6, 14)).capitalize(),
        "comments": f"{rng.randint(4, 40)} pages, {rng.randint(1, 12)} figures" if i % 3 else None,
        "journal-ref": f"Phys.Rev.D{rng.randint(50, 110)}:0{rng.randint(10000, 99999)},20{year:02d}"
        if i % 4 == 0
        else None,
        "doi": f"10.1103/PhysRevD.{rng.randint(50, 110)}.{rng.randint(1000, 9999)}" if i % 4 == 0 else None,
        "report-no": None,
        "categories": cats,
        "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/" if i % 2 else None,
        "abstract": "  " + ". ".join(_sentence(rng, rng.randint(12, 25)) for _ in range(7)) + ".\n",
        "versions": versions,
        "update_date": f"20{year:02d}-{month:02d}-15",
        "authors_parsed": authors,
    }


def generate(path: Path, lines: int) -> None:
    rng = random.Random(42)
    with path.open("w", encoding="utf-8") as f:
        for i in range(lines):
            f.write(json.dumps(kaggle_line(rng, i), ensure_ascii=False) + "\n")


class _Clock:
    """Wall and CPU time of a block. CPU time (this process, SQLite included: it runs in-process) is
    what the code costs; wall time also holds waiting for a core on a busy machine and for the disk."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _rate(label: str, n: int, clock: _Clock) -> float:
    wall = n / clock.wall if clock.wall else float("inf")
    cpu = n / clock.cpu if clock.cpu else float("inf")
    print(
        f"{label:<38} {n:>8} records: wall {clock.wall:7.2f} s = {wall:>9,.0f} /s | "
        f"cpu {clock.cpu:7.2f} s = {cpu:>9,.0f} /s"
    )
    return wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=200_000)
    ap.add_argument("--batch-size", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "arxiv-metadata-oai-snapshot.json"
        with _Clock() as c:
            generate(data, args.lines)
        print(f"generated {args.lines} lines ({data.stat().st_size / 1e6:.0f} MB) in {c.wall:.1f} s")
        for label, loads in (
            ("baseline: json.loads per line", json.loads),
            ("baseline: orjson.loads per line", orjson.loads),
        ):
            with _Clock() as c, data.open("rb") as f:
                n = sum(1 for line in f if loads(line))
            _rate(label, n, c)
        with _Clock() as c, data.open("rb") as f:
            n = sum(1 for _ in parse_kaggle(f, name=str(data)))
        parse_rate = _rate("parse only (parse_kaggle)", n, c)
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp) / "data",  # type: ignore[call-arg]
            database_url=str(Path(tmp) / "data" / "bench.db"),
            seed_demo=False,
        )
        engine = open_store(settings)
        with _Clock() as c:
            report = ingest_paths(engine=engine, paths=[data], batch_size=args.batch_size)
        rate = _rate("end to end into SQLite (ingest_paths)", report.added, c)
        print(
            f"  added {report.added}, rejected {report.rejected_count}; peak memory so far "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (max RSS)"
        )
        with _Clock() as c:
            again = ingest_paths(engine=engine, paths=[data], batch_size=args.batch_size)
        _rate("re-ingest (all unchanged)", again.unchanged, c)
        engine.dispose()
        print(f"target {TARGET:,}/s (wall): parse {parse_rate / TARGET:.2f}x, end to end {rate / TARGET:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
