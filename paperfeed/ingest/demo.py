"""The demo corpus shipped as package data: seeding an empty store with it, and regenerating it.

The demo papers come from saved Hugging Face pages that carry no dates: none is invented. They have no
publication date, and the store records when this instance added them (``first_seen``, at seeding: its first
start), so they make up the daily list of that day and the default "This week" trending window. Their
``pf-`` ids are stable (a hash of title and abstract), so ``paperfeed enrich`` can later give them their real
arXiv metadata (and rename them to their arXiv ids) without duplicates.

Regenerate ``paperfeed/data/demo_papers.jsonl`` from the saved pages with

    python -m paperfeed.ingest.demo [--source ../shared/corpus/hf-papers-pages] [--out FILE]

The three pages hold 382 entries, 341 distinct papers; duplicates are merged (first occurrence kept).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.ingest.hf_pages import parse_hf_page
from paperfeed.ingest.paperfeed_jsonl import write_jsonl
from paperfeed.ingest.run import IngestReport, ingest_paths
from paperfeed.models import Paper
from paperfeed.store.papers import count_papers
from paperfeed.store.state import get_state, set_state

DEMO_PATH = Path(__file__).resolve().parent.parent / "data" / "demo_papers.jsonl"
_SEEDED_KEY = "demo_seeded"


def seed_demo_if_empty(*, engine: Engine) -> IngestReport | None:
    """Load the demo corpus into a store that has never held papers; returns the report if it did."""
    with engine.connect() as conn:
        if get_state(conn=conn, key=_SEEDED_KEY) or count_papers(conn=conn) > 0:
            return None
    report = ingest_paths(engine=engine, paths=[DEMO_PATH], fmt="paperfeed-jsonl")
    with engine.begin() as conn:
        set_state(conn=conn, key=_SEEDED_KEY, value={"papers": report.added})
    return report


DEFAULT_SOURCE = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "hf-papers-pages"
DEFAULT_OUT = DEMO_PATH


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
    parser = argparse.ArgumentParser(description="Regenerate the shipped demo corpus from the saved HF pages.")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    papers = demo_papers(args.source)
    args.out.write_text(render(papers), encoding="utf-8")
    print(f"wrote {len(papers)} papers to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
