"""Keeping the lexical index in step with the store: incremental, resumable, safe between processes.

The index remembers (in ``lexical/paperfeed.json``) a watermark on ``papers.changed_at``; a refresh reads
the papers changed since, replaces their documents (skipping those whose content digest is unchanged),
deletes the old ids of renamed papers, and commits every ``LEXICAL_COMMIT_ROWS`` papers with the position
reached, so an interrupted refresh continues where it stopped. Used by the index writer
(:mod:`paperfeed.search.writer`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.models import Paper
from paperfeed.search.lexical import LexicalDoc, LexicalIndex
from paperfeed.store.index_sync import aliases_of, count_changed_since
from paperfeed.store.papers import all_ids, count_papers, get_papers, iter_papers, now_utc

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]  # (stage "lexical" | "dense", papers done, total or None)

LEXICAL_BATCH = 2_000
LEXICAL_COMMIT_ROWS = 50_000  # a commit (and resume point) every this many papers
WATERMARK_MARGIN = timedelta(minutes=2)  # papers committed late by slow transactions are looked at again


def marker_key(marker: tuple[int, datetime | None]) -> list[Any]:
    """The store's change marker (see ``store.index_sync.change_marker``) in JSON form."""
    return [marker[0], marker[1].isoformat() if marker[1] else None]


def lexical_doc(p: Paper) -> LexicalDoc:
    """What the lexical index keeps of a paper (dates fall back to when Paperfeed first saw it)."""
    return LexicalDoc(
        id=p.id,
        title=p.title,
        abstract=p.abstract or "",
        authors="; ".join(p.author_names),
        categories=list(p.categories),
        published=p.published or p.first_seen,
    )


@contextmanager
def file_lock(path: Path, blocking: bool, wait: float = 0.0) -> Iterator[bool]:
    """An exclusive lock between processes (a server and ``paperfeed index``) and between threads; yields
    False when not ``blocking`` and someone else holds it for more than ``wait`` seconds."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: threads are still serialised by the caller
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def sync_lexical(
    lex: LexicalIndex,
    engine: Engine,
    key: list[Any],
    progress: Progress | None = None,
    *,
    blocking: bool = True,
    wait: float = 0.0,
    lock_path: Path | None = None,
    before: Callable[[], LexicalIndex] | None = None,
    after: Callable[[LexicalIndex], None] | None = None,
) -> dict[str, int]:
    """Bring ``lex`` up to date with the store, holding ``lock_path`` (default ``<index>.lock``; tantivy's own
    writer lock does not keep a second process out). Not ``blocking``: skip (zero counts) while another writer
    works. Under the lock, ``before`` may hand over another index to update (a fresher private copy) and
    ``after`` runs once the update is committed (writing the manifest, publishing a private copy)."""
    with file_lock(lock_path or lex.path.parent / (lex.path.name + ".lock"), blocking, wait) as got:
        if not got:
            return {"indexed": 0, "deleted": 0}
        if before is not None:
            lex = before()
        report = sync_lexical_locked(lex, engine, key, progress)
        if after is not None:
            after(lex)
        return report


def sync_lexical_locked(lex: LexicalIndex, engine: Engine, key: list[Any], progress: Progress | None) -> dict[str, int]:
    lex.reload_meta()
    meta = lex.meta
    pending = meta.get("pending") or {"since": meta.get("watermark"), "started": now_utc().isoformat(), "last_id": ""}
    meta["pending"] = pending
    since = datetime.fromisoformat(pending["since"]) if pending.get("since") else None
    try:
        with engine.connect() as conn:
            total = count_changed_since(conn=conn, since=since)
            indexed, deleted = _index_changed(lex, conn, since, pending, progress, total)
            lex.commit()
            deleted += _reconcile(lex, conn)
    except BaseException:
        lex.rollback()
        lex.reload_meta()
        raise
    meta = lex.meta
    meta["watermark"] = (datetime.fromisoformat(pending["started"]) - WATERMARK_MARGIN).isoformat()
    meta.pop("pending", None)
    meta["marker"] = key
    lex.save_meta()
    return {"indexed": indexed, "deleted": deleted}


def _index_changed(
    lex: LexicalIndex,
    conn: Connection,
    since: datetime | None,
    pending: dict[str, str],
    progress: Progress | None,
    total: int,
) -> tuple[int, int]:
    indexed = deleted = uncommitted = done = 0
    for batch in iter_papers(conn=conn, changed_since=since, batch_size=LEXICAL_BATCH):
        done += len(batch)
        todo = [p for p in batch if p.id > pending["last_id"]]
        if todo:
            deleted += lex.delete(aliases_of(conn=conn, ids=[p.id for p in todo]))
            docs = [lexical_doc(p) for p in todo]
            known = lex.digests([d.id for d in docs])  # papers looked at again (margin) or unchanged
            indexed += lex.add(d for d in docs if known.get(d.id) != d.digest)
            uncommitted += len(todo)
            pending["last_id"] = todo[-1].id
            if uncommitted >= LEXICAL_COMMIT_ROWS:
                lex.commit()  # also saves meta with the position reached: the resume point
                uncommitted = 0
        if progress is not None:
            progress("lexical", done, total)
    return indexed, deleted


def _reconcile(lex: LexicalIndex, conn: Connection) -> int:
    """When the index and the store disagree on the number of papers, fix the difference both ways."""
    if lex.count() == count_papers(conn=conn):
        return 0
    indexed, present = lex.all_ids(), set(all_ids(conn=conn))
    gone, missing = indexed - present, sorted(present - indexed)
    lex.delete(gone)
    for i in range(0, len(missing), LEXICAL_BATCH):
        lex.add(lexical_doc(p) for p in get_papers(conn=conn, ids=missing[i : i + LEXICAL_BATCH]).values())
    lex.commit()
    if gone or missing:
        log.info("search index reconciled: %d removed, %d added", len(gone), len(missing))
    return len(gone)
