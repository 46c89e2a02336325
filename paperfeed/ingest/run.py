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
from sqlalchemy.exc import SQLAlchemyError

from paperfeed.ingest.compressed import DAMAGE_ERRORS, ArchiveError, InputFileError, check_input_file, open_input
from paperfeed.ingest.formats import FORMATS, IngestError, detect_format
from paperfeed.ingest.validate import clean_paper
from paperfeed.models import DeletedRecord, Paper, ParsedItem, Rejection
from paperfeed.store.faults import disk_full_cause
from paperfeed.store.papers import UpsertResult, mark_withdrawn, upsert_papers

BATCH_SIZE = 2000
ProgressFn = Callable[[int], None]
REPORT_COUNTS = ("added", "updated", "unchanged", "deleted", "withdrawn")  # IngestReport's counters, in report order


@dataclass
class IngestReport:
    """Counts of one ingest (ids are not kept: a 2.7-million-line snapshot must stay in constant memory)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0  # deletion records read (OAI-PMH status="deleted")
    withdrawn: int = 0  # stored papers those records marked withdrawn (kept, never removed)
    rejected: list[Rejection] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)
    # Stored records with something dropped (an unsafe link): {"id", "note"}, the note naming the field.
    notes: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        counts = {name: getattr(self, name) for name in REPORT_COUNTS}
        rejections = [r.as_dict() for r in self.rejected]
        return {
            **counts,
            "rejected": len(self.rejected),
            "rejections": rejections,
            "files": self.files,
            "notes": self.notes,
        }

    def merge(self, other: IngestReport) -> None:
        for name in REPORT_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected.extend(other.rejected)
        self.files.extend(other.files)
        self.notes.extend(other.notes)


class _CountingReader(io.RawIOBase):
    """Wraps a binary file and reports bytes read, so a progress bar can follow a streaming parser."""

    def __init__(self, raw: BinaryIO, on_bytes: ProgressFn | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # zip archives read their directory at the end first
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        if self._on_bytes and n:
            self._on_bytes(n)
        return n


def store_items(
    *,
    engine: Engine,
    items: Iterable[ParsedItem],
    report: IngestReport,
    batch_size: int = BATCH_SIZE,
    assume_clean: bool = False,
) -> IngestReport:
    """Validate and store parsed items in transactions of ``batch_size`` papers.

    ``assume_clean`` skips the second ``clean_paper`` pass for items from a registered parser, which
    already cleaned them (and located any rejection); it is a third of the Kaggle ingest time.
    """
    batch: list[Paper] = []
    deleted: list[str] = []

    def flush() -> None:
        if not batch and not deleted:
            return
        with engine.begin() as conn:
            res = upsert_papers(conn=conn, papers_in=batch) if batch else UpsertResult()
            # deletion records, and withdrawn papers of a Paperfeed export, are marked after the upserts
            gone = deleted + [p.id for p in batch if p.withdrawn]
            report.withdrawn += len(mark_withdrawn(conn=conn, ids=gone))
        report.notes.extend({"id": p.id, "note": note} for p in batch for note in p.notes)
        report.added += len(res.added)
        report.updated += len(res.updated)
        report.unchanged += len(res.unchanged)
        batch.clear()
        deleted.clear()

    for item in items:
        if isinstance(item, Rejection):
            item.reason = " ".join(item.reason.split())  # one line, whatever the parser's library said
            report.rejected.append(item)
        elif isinstance(item, DeletedRecord):
            report.deleted += 1
            deleted.append(item.id)  # applied after the papers before it in the same transaction
            if len(deleted) >= batch_size:
                flush()
        elif assume_clean:
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
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


def resolve_format(path: Path, fmt: str = "auto") -> str:
    """The format ``path`` will be read as; IngestError (one line naming the file) if it cannot be read."""
    try:
        check_input_file(path)
    except InputFileError as exc:
        raise IngestError(str(exc)) from exc
    name = detect_format(path) if fmt == "auto" else fmt
    if name not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise IngestError(f"{path}: unknown format {name!r} (known: auto, {known})")
    return name


def parse_path(path: Path, fmt: str = "auto", on_bytes: ProgressFn | None = None) -> Iterator[ParsedItem]:
    """Parsed items of one file, with rejections located in that file."""
    name = resolve_format(path, fmt)

    def counted(raw: BinaryIO) -> BinaryIO:
        return io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 20)  # type: ignore[return-value]

    try:
        with open_input(path, counted) as (stream, _inner):
            yield from FORMATS[name](stream, name=str(path))
    except (ArchiveError, InputFileError) as exc:
        raise IngestError(str(exc)) from exc
    except DAMAGE_ERRORS as exc:  # a truncated .gz: what was read before the damage is kept
        yield Rejection(file=str(path), reason=f"compressed data damaged: {exc}")


def ingest_paths(
    *,
    engine: Engine,
    paths: Iterable[Path],
    fmt: str = "auto",
    on_bytes: ProgressFn | None = None,
    batch_size: int = BATCH_SIZE,
) -> IngestReport:
    """Ingest every file in ``paths`` into the store; one report for all of them.

    Every path is checked (exists, is a file, has a known or detectable format) before anything is
    stored, so a typo in the last argument does not leave the first files half-done.
    """
    plan = [(path, resolve_format(path, fmt)) for path in paths]
    report = IngestReport()
    for path, name in plan:
        report.files.append({"path": str(path), "format": name})
        try:
            store_items(
                engine=engine,
                items=parse_path(path, name, on_bytes),
                report=report,
                batch_size=batch_size,
                assume_clean=True,
            )
        except (OSError, SQLAlchemyError) as exc:
            cause = disk_full_cause(exc)
            if cause is None:
                raise
            raise IngestError(_stopped_message(cause, path, report)) from exc
    return report


def _stopped_message(cause: str, path: Path, report: IngestReport) -> str:
    """One line for an ingest the disk stopped: the cause, and what the committed batches kept."""
    kept = report.added + report.updated + report.unchanged
    return (
        f"disk full ({cause}) while storing {path}: kept {kept} papers from earlier batches "
        f"(added {report.added}, updated {report.updated}, unchanged {report.unchanged}); the batch being "
        "written was rolled back. Free some space and run the same command again to finish"
    )
