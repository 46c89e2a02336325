"""Keyphrase extraction speed: papers per second of ``paperfeed.keywords.extract_keywords`` (YAKE via
yake-rust, plus our noun-phrase filter), against plain yake-rust (8 best phrases, no filter) in the same run.

    nice -n 10 .venv/bin/python bench/keywords.py              # the demo corpus, 3 rounds
    nice -n 10 .venv/bin/python bench/keywords.py --rounds 5

Single thread, titles and abstracts of the shipped demo corpus (341 papers, arXiv-length abstracts). CPU
time per paper is printed beside wall time, with the load average (other processes slow both sides alike).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yake_rust  # noqa: E402

from paperfeed.keywords import extract_keywords  # noqa: E402

DEMO = Path(__file__).resolve().parent.parent / "paperfeed" / "data" / "demo_papers.jsonl"


def _time(fn: object, texts: list[tuple[str, str]], rounds: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for title, abstract in texts:
            fn(title, abstract)  # type: ignore[operator]
    n = len(texts) * rounds
    return n / (time.perf_counter() - wall0), n / (time.process_time() - cpu0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [(r["title"], r["abstract"]) for r in rows]
    plain = yake_rust.Yake(language="en", ngrams=3, deduplication_threshold=0.7)
    extract_keywords(*texts[0])  # warm up (thread-local extractor, stop words)
    base = _time(lambda t, a: plain.get_n_best(f"{t}. {a}", n=8), texts, args.rounds)
    ours = _time(extract_keywords, texts, args.rounds)
    print(f"papers: {len(texts)} x {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}")
    print(f"baseline yake-rust (8 best, no filter): {base[0]:,.0f} papers/s wall, {base[1]:,.0f} papers/s CPU")
    print(f"paperfeed extract_keywords:            {ours[0]:,.0f} papers/s wall, {ours[1]:,.0f} papers/s CPU")
    print(f"1M papers on one core: about {1_000_000 / ours[1] / 3600:.1f} h CPU")


if __name__ == "__main__":
    main()
