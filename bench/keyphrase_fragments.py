"""Share of keyphrase chips that are fragments, not complete noun phrases, on the demo corpus.

    .venv/bin/python bench/keyphrase_fragments.py            # before (YAKE + stop-word filter) and now
    .venv/bin/python bench/keyphrase_fragments.py --sample 100   # also print 100 chips of each, to judge by hand

"Fragment" is the documented rule of :mod:`paperfeed.keywords` (verb or adverb inside, opening -ing verb,
ending on an adjective or compound modifier, or a title's name cut short). "Before" is the selection as it was
until issue 22 (YAKE's candidates with only the stop-word and leading-verb filter), recomputed here in the same
run; "now" is :func:`paperfeed.keywords.extract_keywords`. Because the rule is also the filter, the "now" share
is 0 by construction under it: the ``--sample`` listing is there to judge the chips by hand as well.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paperfeed.keywords import (  # noqa: E402
    CANDIDATES,
    MAX_KEYWORDS,
    MIN_KEYWORDS,
    _add,
    _distinctive_word,
    _extractor,
    _phrase_ok,
    _stopwords,
    extract_keywords,
    fragment_reason,  # noqa: E402
)

DEMO = Path(__file__).resolve().parent.parent / "paperfeed" / "data" / "demo_papers.jsonl"


def _text(title: str, abstract: str) -> str:
    return f"{title.strip().rstrip('.')}. {abstract.strip()}".strip(". ")


def before(title: str, abstract: str) -> list[str]:
    """The selection before the noun-phrase rule: YAKE's best, no stop word inside, no leading verb."""
    candidates = [" ".join(p.split()) for p, _ in _extractor().get_n_best(_text(title, abstract), n=CANDIDATES)]
    candidates = [c for c in candidates if _phrase_ok(c)]
    kept: list[str] = []
    kept_words: list[set[str]] = []
    for phrase in candidates:
        if len(kept) < MAX_KEYWORDS and (" " in phrase or _distinctive_word(phrase)):
            _add(kept, kept_words, phrase)
    for phrase in candidates:
        if len(kept) < MIN_KEYWORDS and len(phrase) >= 4:
            _add(kept, kept_words, phrase)
    return kept


def measure(name: str, extract: object, rows: list[dict[str, str]], sample: int) -> None:
    chips: list[tuple[str, str | None]] = []
    for r in rows:
        text = _text(r["title"], r["abstract"])
        for phrase in extract(r["title"], r["abstract"]):  # type: ignore[operator]
            chips.append((phrase, fragment_reason(phrase, text, _stopwords())))
    bad = sum(1 for _, why in chips if why)
    short = sum(1 for r in rows if len(extract(r["title"], r["abstract"])) < MIN_KEYWORDS)  # type: ignore[operator]
    print(f"{name}: {len(chips)} chips, {bad} fragments ({100 * bad / len(chips):.1f}%), {short} papers under 3")
    if sample:
        for phrase, why in random.Random(22).sample(chips, min(sample, len(chips))):
            print(f"    {phrase}" + (f"   <- {why}" if why else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", type=int, default=0, help="print this many chips of each selection")
    args = ap.parse_args()
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"demo corpus: {len(rows)} papers")
    measure("before (stop-word filter only)", before, rows, args.sample)
    measure("now (noun-phrase rule)", extract_keywords, rows, args.sample)


if __name__ == "__main__":
    main()
