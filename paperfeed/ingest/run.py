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
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from paperfeed.ingest.compressed import DAMAGE_ERRORS, ArchiveError, InputFileError, check_input_file, open_input
from paperfeed.ingest.formats import FORMATS, IngestError, detect_format
from paperfeed.ingest.validate import clean_paper
from paperfeed.models import DeletedRecord, Paper, ParsedItem, Rejection
from paperfeed.store.faults import disk_full_cause
from paperfeed.store.papers import UpsertResult, mark_withdrawn, upsert_papers
from paperfeed.store.rate_limits import serialise

BATCH_SIZE = 2000
STORE_TRIES = 3  # a batch that conflicts with a concurrent writer is tried again this many times in all
ProgressFn = Callable[[int], None]
REPORT_COUNTS = ("added", "updated", "unchanged", "deleted", "withdrawn")  # IngestReport's counters, in report order
# Rejections and notes kept in a report, so that a file of millions of bad records stays in bounded memory
# (every one is counted exactly): the first KEPT_PER_FILE of each file (or harvested page), KEPT_IN_ALL at most.
KEPT_PER_FILE = 100
KEPT_IN_ALL = 1000
DAMAGED = "compressed data damaged"  # the rejection that ends a truncated file: always kept


@dataclass
class IngestReport:
    """Counts of one ingest (ids are not kept: a 2.7-million-line snapshot must stay in constant memory).

    ``rejected`` and ``notes`` keep the first ones only (see ``KEPT_PER_FILE``); ``rejected_count`` and
    ``notes_count`` count all of them."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0  # deletion records read (OAI-PMH status="deleted")
    withdrawn: int = 0  # stored papers those records marked withdrawn (kept, never removed)
    rejected: list[Rejection] = field(default_factory=list)
    files: list[dict[str, str]] = field(default_factory=list)
    # Stored records with something dropped (an unsafe link): {"id", "note"}, the note naming the field.
    notes: list[dict[str, str]] = field(default_factory=list)
    rejected_count: int = 0
    notes_count: int = 0

    @property
    def rejections_left_out(self) -> int:
        """Rejections counted but not kept in ``rejected``."""
        return self.rejected_count - len(self.rejected)

    @property
    def notes_left_out(self) -> int:
        """Notes counted but not kept in ``notes``."""
        return self.notes_count - len(self.notes)

    def reject(self, rejection: Rejection, kept_in_file: int) -> bool:
        """Count ``rejection``; keep it if its file has kept fewer than ``KEPT_PER_FILE`` (``kept_in_file``
        so far) and the report fewer than ``KEPT_IN_ALL``, or if it says the file is damaged. True if kept."""
        self.rejected_count += 1
        keep = kept_in_file < KEPT_PER_FILE and len(self.rejected) < KEPT_IN_ALL
        if keep or rejection.reason.startswith(DAMAGED):
            self.rejected.append(rejection)
            return True
        return False

    def note(self, note: dict[str, str], kept_in_file: int) -> bool:
        """Count ``note``; kept by the same rule as a rejection. True if kept."""
        self.notes_count += 1
        if kept_in_file < KEPT_PER_FILE and len(self.notes) < KEPT_IN_ALL:
            self.notes.append(note)
            return True
        return False

    def as_dict(self) -> dict[str, Any]:
        counts = {name: getattr(self, name) for name in REPORT_COUNTS}
        rejections = [r.as_dict() for r in self.rejected]
        return {
            **counts,
            "rejected": self.rejected_count,
            "rejections": rejections,
            "rejections_left_out": self.rejections_left_out,
            "files": self.files,
            "notes": self.notes,
            "notes_left_out": self.notes_left_out,
        }

    def merge(self, other: IngestReport) -> None:
        for name in REPORT_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        room = max(KEPT_IN_ALL - len(self.rejected), 0)
        self.rejected.extend(other.rejected[:room])
        self.rejected_count += other.rejected_count
        self.files.extend(other.files)
        self.notes.extend(other.notes[: max(KEPT_IN_ALL - len(self.notes), 0)])
        self.notes_count += other.notes_count


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


def _store_batch(engine: Engine, batch: list[Paper], deleted: list[str]) -> tuple[UpsertResult, int]:
    """One batch in one transaction, serialised with every other ingest on this store: a concurrent run's
    batch commits first and this one then finds its papers (``unchanged``/``updated``, never a duplicate).
    A conflict with a writer outside ingest (a member's submission) is retried on a fresh transaction."""
    for attempt in range(1, STORE_TRIES + 1):
        try:
            with engine.begin() as conn:
                serialise(conn, "ingest")
                res = upsert_papers(conn=conn, papers_in=batch) if batch else UpsertResult()
                # deletion records, and withdrawn papers of a Paperfeed export, are marked after the upserts
                gone = deleted + [p.id for p in batch if p.withdrawn]
                return res, len(mark_withdrawn(conn=conn, ids=gone))
        except IntegrityError:
            if attempt == STORE_TRIES:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


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
    kept = {"rejected": 0, "notes": 0}  # how many of this file's rejections and notes the report kept

    def flush() -> None:
        if not batch and not deleted:
            return
        res, withdrawn = _store_batch(engine, batch, deleted)
        report.withdrawn += withdrawn
        for p in batch:
            for note in p.notes:
                kept["notes"] += report.note({"id": p.id, "note": note}, kept["notes"])
        report.added += len(res.added)
        report.updated += len(res.updated)
        report.unchanged += len(res.unchanged)
        batch.clear()
        deleted.clear()

    for item in items:
        if isinstance(item, Rejection):
            item.reason = " ".join(item.reason.split())  # one line, whatever the parser's library said
            kept["rejected"] += report.reject(item, kept["rejected"])
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
                kept["rejected"] += report.reject(Rejection(file=item.source, reason=cleaned), kept["rejected"])
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
        yield Rejection(file=str(path), reason=f"{DAMAGED}: {exc}")


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
