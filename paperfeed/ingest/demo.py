"""The demo corpus shipped as package data, and seeding an empty store with it."""

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
