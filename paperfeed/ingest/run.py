"""The ingest pipeline: parse files (format by name or auto-detected), validate, store in batches.

Each batch is one transaction, so a crash or Ctrl-C leaves every earlier batch stored and nothing
half-written; re-running completes the job because storing the same papers again changes nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine

from paperfeed.ingest.formats import FORMATS, detect_format
from paperfeed.ingest.validate import clean_paper
from paperfeed.models import DeletedRecord, ParsedItem, Paper, Rejection
from paperfeed.store.papers import upsert_papers

BATCH_SIZE = 2000
ProgressFn = Callable[[int], None]


class IngestError(RuntimeError):
    """A whole input cannot be read (missing file, unknown format); the message names it."""


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    added_ids: list[str] = field(default_factory=list)
    updated_ids: list[str] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rejected": len(self.rejected),
            "rejections": [r.as_dict() for r in self.rejected],
            "files": self.files,
        }

    def merge(self, other: IngestReport) -> None:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.deleted += other.deleted
        self.rejected.extend(other.rejected)
        self.added_ids.extend(other.added_ids)
        self.updated_ids.extend(other.updated_ids)
        self.files.extend(other.files)


class _CountingReader(io.RawIOBase):
    """Wraps a binary file and reports bytes read, so a progress bar can follow a streaming parser."""

    def __init__(self, raw: BinaryIO, on_bytes: ProgressFn | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self._on_bytes and n:
            self._on_bytes(n)
        return n


def store_items(*, engine: Engine, items: Iterable[ParsedItem], report: IngestReport,
                batch_size: int = BATCH_SIZE) -> IngestReport:
    """Validate and store parsed items in transactions of ``batch_size`` papers."""
    batch: list[Paper] = []

    def flush() -> None:
        if not batch:
            return
        with engine.begin() as conn:
            res = upsert_papers(conn=conn, papers_in=batch)
        report.added += len(res.added)
        report.updated += len(res.updated)
        report.unchanged += len(res.unchanged)
        report.added_ids.extend(res.added)
        report.updated_ids.extend(res.updated)
        batch.clear()

    for item in items:
        if isinstance(item, Rejection):
            report.rejected.append(item)
        elif isinstance(item, DeletedRecord):
            report.deleted += 1
        else:
            cleaned = clean_paper(item)
            if isinstance(cleaned, str):
                report.rejected.append(Rejection(file=item.source, reason=cleaned))
                continue
            batch.append(cleaned)
            if len(batch) >= batch_size:
                flush()
    flush()
    return report


def parse_path(path: Path, fmt: str = "auto", on_bytes: ProgressFn | None = None) -> Iterator[ParsedItem]:
    """Parsed items of one file, with rejections located in that file."""
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    if path.is_dir():
        raise IngestError(f"{path}: is a directory; pass the files inside it")
    name = detect_format(path) if fmt == "auto" else fmt
    if name not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise IngestError(f"{path}: unknown format {name!r} (known: auto, {known})")
    with path.open("rb") as raw:
        stream = io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 20)
        yield from FORMATS[name](stream, name=str(path))


def ingest_paths(*, engine: Engine, paths: Iterable[Path], fmt: str = "auto",
                 on_bytes: ProgressFn | None = None, batch_size: int = BATCH_SIZE) -> IngestReport:
    """Ingest every file in ``paths`` into the store; one report for all of them."""
    report = IngestReport()
    for path in paths:
        name = detect_format(path) if fmt == "auto" and path.is_file() else fmt
        report.files.append({"path": str(path), "format": name})
        store_items(engine=engine, items=parse_path(path, fmt, on_bytes), report=report,
                    batch_size=batch_size)
    return report
