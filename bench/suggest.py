"""Suggestions-as-you-type speed at 100,000 papers: the prefix index against a naive scan, in the same run.

    nice -n 10 .venv/bin/python bench/suggest.py                 # 100k papers, 500 typed prefixes
    nice -n 10 .venv/bin/python bench/suggest.py --papers 10000 --queries 300

Papers come from ``bench/corpus.py`` (real titles and abstracts recombined, synthetic author names). The typed
text imitates someone typing: the first 1 to 3 words of a random title (or an author's name), the last word cut
after 1 to all of its letters, a few with a misspelled first word. Each is answered twice:

- paperfeed: ``search.suggest.suggestions`` (what ``GET /api/v1/suggest`` runs: spelling check of the finished
  words, query completions, titles and authors by prefix and word prefix), limit 8;
- baseline: a naive scan of every title and author name with the same matching rule (each typed word begins
  a word), newest first, limit 8.

Both must find the same papers; p50/p95/max latencies are printed (wall clock, and CPU time per lookup) with
the build times and the load average (other processes on the machine slow both sides alike).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import SynthPaper, generate  # noqa: E402

from paperfeed.search.analyze import words  # noqa: E402
from paperfeed.search.spelling import vocabulary_of  # noqa: E402
from paperfeed.search.suggest import SuggestIndex, suggestions  # noqa: E402
from paperfeed.store.suggest import SuggestRow  # noqa: E402

TARGET_P95_MS = 20.0


def typed_texts(papers: list[SynthPaper], count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        p = rng.choice(papers)
        source = rng.choice(p.authors) if rng.random() < 0.2 else p.title
        ws = source.split()[: rng.randint(1, 3)]
        last = ws[-1]
        ws[-1] = last[: rng.randint(1, len(last))]
        if len(ws) > 1 and rng.random() < 0.1 and len(ws[0]) > 5:  # a typo in a finished word
            i = rng.randrange(1, len(ws[0]) - 1)
            ws[0] = ws[0][:i] + ws[0][i + 1 :]
        out.append(" ".join(ws))
    return out


def matches(text: str, typed: list[str]) -> bool:
    ws = words(text)
    return all(any(w.startswith(t) for w in ws) for t in typed)


def naive(rows: list[SuggestRow], names: list[str], q: str) -> tuple[list[str], list[str]]:
    """Every title and author name looked at: the ids of the matching papers (newest first) and the names."""
    typed = words(q)
    hits = sorted((r for r in rows if matches(r.title, typed)), key=lambda r: r.when, reverse=True)  # type: ignore[arg-type, return-value]
    return [r.id for r in hits], [n for n in names if matches(n, typed)]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--baseline-queries", type=int, default=50, help="the naive scan is slow: fewer of them")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    papers = list(generate(args.papers))
    rows = [SuggestRow(p.id, p.title, ", ".join(p.authors), p.published) for p in papers]
    t = time.perf_counter()
    index = SuggestIndex(rows)
    print(f"suggestion index: {len(index)} papers built in {time.perf_counter() - t:.1f}s")
    t = time.perf_counter()
    vocab = vocabulary_of([[(p.title, p.abstract, ", ".join(p.authors)) for p in papers]])
    print(f"spelling vocabulary: {len(vocab.df)} words built in {time.perf_counter() - t:.1f}s")
    texts = typed_texts(papers, args.queries)

    ours: list[float] = []
    cpu: list[float] = []
    for q in texts:
        t, c = time.perf_counter(), time.process_time()
        suggestions(index, q, limit=8, vocabulary=vocab)
        ours.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    names = sorted({n.strip() for r in rows for n in r.authors.split(",") if n.strip()})  # the scan's name list
    base: list[float] = []
    agree = 0
    for q in texts[: args.baseline_queries]:
        t = time.perf_counter()
        expected, found_names = naive(rows, names, q)
        base.append((time.perf_counter() - t) * 1000)
        got = suggestions(index, q, limit=8)
        ids = [s.url.rsplit("/", 1)[1] for s in got if s.type == "paper"]
        authors = [s.text for s in got if s.type == "author"]
        valid = set(ids) <= set(expected) and set(authors) <= set(found_names)
        complete = len(ids) == min(len(expected), 8 - len(authors) - sum(s.type == "query" for s in got))
        agree += valid and complete
    print(f"\n{'':<14} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    rows_out = (("paperfeed", ours), ("paperfeed CPU", cpu), ("naive scan", base))
    for name, xs in rows_out:
        print(f"{name:<14} {len(xs):>8} {statistics.median(xs):>8.2f} {pct(xs, 95):>8.2f} {max(xs):>8.2f}")
    print("(wall-clock times, except 'paperfeed CPU': the process's CPU time per lookup, which a busy machine")
    print(" does not inflate the way it inflates wall-clock time)")
    print(f"\nsuggestions that the scan confirms (every one a match, none missing): {agree}/{len(base)}")
    print(
        f"p95 target {TARGET_P95_MS:.0f} ms: {'met' if pct(ours, 95) < TARGET_P95_MS else 'MISSED'}; "
        f"speed-up over the scan at p50: {statistics.median(base) / statistics.median(ours):.0f}x"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
