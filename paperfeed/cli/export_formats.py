"""What ``paperfeed export`` writes: every paper or one collection's, as Paperfeed JSONL or BibTeX."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO

from sqlalchemy import Connection

from paperfeed.cite import bibtex_entries
from paperfeed.models import Paper
from paperfeed.store.papers import get_papers, iter_papers
from paperfeed.store.public_collections import find_by_name, items

EXPORT_FORMATS = ("jsonl", "bibtex")


def export_papers(*, conn: Connection, collection: str | None, username: str | None) -> Iterator[Paper] | str:
    """The papers to export (a lazy stream for the whole store), or why the collection cannot be used."""
    if collection is None:
        if username is not None:
            return "--user only goes with --collection"
        return (p for batch in iter_papers(conn=conn) for p in batch)
    found = find_by_name(conn=conn, name=collection, username=username)
    if not found:
        who = f" of member {username!r}" if username else ""
        return f"no collection named {collection!r}{who}"
    if len(found) > 1:
        owners = ", ".join(sorted(c.owner for c in found))
        return f"{len(found)} members have a collection named {collection!r} ({owners}): say whose with --user"
    ids = [i.paper_id for i in items(conn=conn, collection_id=found[0].id, limit=1_000_000)]
    return iter(get_papers(conn=conn, ids=ids))


def write_bibtex(papers: Iterable[Paper], out: IO[str]) -> int:
    """Write BibTeX entries (keys made unique, blank line between), streaming; returns how many."""
    n = 0
    for entry in bibtex_entries(papers):
        out.write(("\n" if n else "") + entry)
        n += 1
    return n
