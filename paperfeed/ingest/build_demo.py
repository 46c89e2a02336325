"""Regenerate the shipped demo corpus ``paperfeed/data/demo_papers.jsonl`` from the saved HF pages.

    python -m paperfeed.ingest.build_demo [--source ../shared/corpus/hf-papers-pages] [--out FILE]

The three pages hold 382 entries, 341 distinct papers; duplicates are merged (first occurrence kept).
Pages carry no dates, and none is invented: ``published`` and ``first_seen`` stay empty, so the store sets
``first_seen`` when an instance adds the papers (its first start) and they join that day's daily list.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from paperfeed.ingest.hf_pages import parse_hf_page
from paperfeed.ingest.paperfeed_jsonl import write_jsonl
from paperfeed.models import Paper

DEFAULT_SOURCE = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "hf-papers-pages"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "demo_papers.jsonl"


def demo_papers(source: Path) -> list[Paper]:
    """Distinct papers of every ``*.txt`` page in ``source`` (sorted by name), in page order, undated."""
    files = sorted(source.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"{source}: no saved pages (*.txt)")
    by_id: dict[str, Paper] = {}
    for path in files:
        with path.open("rb") as f:
            for item in parse_hf_page(f, name=path.name):
                if isinstance(item, Paper):
                    by_id.setdefault(item.id, item)
                else:
                    raise ValueError(f"demo page does not parse cleanly: {item}")
    return list(by_id.values())


def render(papers: list[Paper]) -> str:
    buf = io.StringIO()
    write_jsonl(papers, buf)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    papers = demo_papers(args.source)
    args.out.write_text(render(papers), encoding="utf-8")
    print(f"wrote {len(papers)} papers to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
