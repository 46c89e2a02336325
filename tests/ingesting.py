"""Ingesting a file in a test, and reading back what was stored."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from paperfeed.ingest.formats import detect_format
from paperfeed.ingest.run import IngestReport, ingest_paths
from paperfeed.models import Paper
from paperfeed.store.papers import get_paper


def ingest_detected(engine: Engine, path: Path, fmt: str) -> IngestReport:
    """Ingest ``path`` as ``paperfeed ingest`` does without ``--format``, once its format is detected as ``fmt``."""
    detected = detect_format(path)
    assert detected == fmt, f"{path.name} detected as {detected}, not {fmt}"
    return ingest_paths(engine=engine, paths=[path])


def stored(engine: Engine, *paper_ids: str) -> list[Paper]:
    """The stored papers with these ids, in that order; fails the test if any is not stored."""
    with engine.connect() as conn:
        found = {pid: get_paper(conn=conn, paper_id=pid) for pid in paper_ids}
    missing = [pid for pid, paper in found.items() if paper is None]
    assert not missing, f"not stored: {missing}"
    return [paper for paper in found.values() if paper is not None]
