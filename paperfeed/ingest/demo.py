"""The demo corpus shipped as package data, and seeding an empty store with it.

The demo papers come from saved Hugging Face pages that carry no dates: none is invented. They have no
publication date, and the store records when this instance added them (``first_seen``, at seeding: its first
start), so they make up the daily list of that day and the default "This week" trending window. Their
``pf-`` ids are stable (a hash of title and abstract), so ``paperfeed enrich`` can later give them their real
arXiv metadata (and rename them to their arXiv ids) without duplicates.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from paperfeed.ingest.run import IngestReport, ingest_paths
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
