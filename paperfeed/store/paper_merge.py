"""Give a paper known by a derived ``pf-`` id its arXiv record: rename it, or merge it into the arXiv row.

``paperfeed enrich`` finds the arXiv record of a paper that came without an id (HF pages, BibTeX, pasted
submissions). Two cases:

- the arXiv id is not stored yet: the row is renamed (every foreign key to ``papers.id`` is ``ON UPDATE
  CASCADE``, so votes, library entries, comments and submissions follow) and filled from arXiv;
- the arXiv id is already another row: the ``pf-`` row's member data moves onto it, row by row, for every
  table with a foreign key to ``papers.id`` (found from the metadata, so new tables are covered); where the
  arXiv row already has the same entry (the same user's vote on both), the arXiv row's is kept. Then the
  ``pf-`` row is deleted.

Either way the old id becomes an alias (old links keep working, search indexes drop its entry) and
``changed_at`` moves, so indexes refresh. Attempts are remembered in ``kv_state`` (``enrich:<id>``) so a
paper arXiv does not know is not asked about on every run.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Column, Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

import paperfeed.store.all_tables  # noqa: F401 - every table on ``metadata``, so all foreign keys are seen
from paperfeed.ids import DERIVED_PREFIX
from paperfeed.models import Paper
from paperfeed.store.papers import _to_row, _write_children, get_papers, merge_paper, now_utc
from paperfeed.store.schema import kv_state, metadata, paper_aliases, paper_categories, paper_versions, papers
from paperfeed.text import title_key

ATTEMPT_PREFIX = "enrich:"
# Rows describing the paper itself: rewritten from the arXiv record, never moved.
_OWN_TABLES = frozenset({papers.name, paper_versions.name, paper_categories.name, paper_aliases.name})
_CHUNK = 500


def _member_columns() -> list[tuple[Table, Column[Any]]]:
    """(table, column) for every foreign key to ``papers.id`` outside the paper's own tables."""
    out = []
    for table in metadata.sorted_tables:
        if table.name in _OWN_TABLES:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == papers.name and fk.parent.table is table:
                out.append((table, fk.parent))
    return out


def papers_missing_arxiv_id(*, conn: Connection, limit: int | None, include_tried: bool) -> list[Paper]:
    """Papers with a derived id, newest first; without ``include_tried``, those never looked up before."""
    q = select(papers.c.id).where(papers.c.id.like(f"{DERIVED_PREFIX}%"), papers.c.withdrawn.is_(False))
    ids = [r.id for r in conn.execute(q.order_by(papers.c.first_seen.desc(), papers.c.id))]
    if not include_tried:
        tried: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            keys = [ATTEMPT_PREFIX + i for i in ids[start : start + _CHUNK]]
            tried.update(
                r.key[len(ATTEMPT_PREFIX) :]
                for r in conn.execute(select(kv_state.c.key).where(kv_state.c.key.in_(keys)))
            )
        ids = [i for i in ids if i not in tried]
    return list(get_papers(conn=conn, ids=ids[:limit] if limit is not None else ids).values())


def remember_attempt(*, conn: Connection, paper_id: str, outcome: str) -> None:
    """Note that ``paper_id`` was looked up (``not_found`` / ``ambiguous``), so later runs skip it."""
    key = ATTEMPT_PREFIX + paper_id
    value = {"outcome": outcome, "at": now_utc().isoformat()}
    done = conn.execute(update(kv_state).where(kv_state.c.key == key).values(value=value, updated_at=now_utc()))
    if done.rowcount == 0:
        conn.execute(insert(kv_state).values(key=key, value=value, updated_at=now_utc()))


def _move_member_rows(conn: Connection, old_id: str, new_id: str) -> None:
    """Point every member row of ``old_id`` at ``new_id``; a row the target already has is dropped."""
    for table, column in _member_columns():
        key_cols = list(table.primary_key.columns)
        if not key_cols:  # no key to tell rows apart: move them all at once
            conn.execute(update(table).where(column == old_id).values({column.name: new_id}))
            continue
        for row in conn.execute(select(*key_cols).where(column == old_id)).all():
            where = [c == row._mapping[c.name] for c in key_cols]
            try:
                with conn.begin_nested():
                    conn.execute(update(table).where(*where).values({column.name: new_id}))
            except IntegrityError:  # the arXiv row has the same entry (same user's vote, same list)
                conn.execute(delete(table).where(*where))


def _alias(conn: Connection, old_id: str, new_id: str) -> None:
    conn.execute(update(paper_aliases).where(paper_aliases.c.paper_id == old_id).values(paper_id=new_id))
    conn.execute(insert(paper_aliases).values(alias=old_id, paper_id=new_id))


def adopt_arxiv_record(*, conn: Connection, paper_id: str, record: Paper) -> str | None:
    """Make the stored ``paper_id`` (a ``pf-`` id) the arXiv paper ``record``; returns the id it now has.

    Runs inside the caller's transaction. Text the arXiv record lacks (code and project links, an abstract)
    is kept from the old row; arXiv's authors, categories, dates, version history and links are taken.
    None, and nothing changes, when ``record.id`` is stored as a paper whose title is not ``record``'s
    (two different papers are never merged).
    """
    old = get_papers(conn=conn, ids=[paper_id]).get(paper_id)
    if old is None or old.id != paper_id:
        raise ValueError(f"{paper_id} is not stored under that id")
    target = get_papers(conn=conn, ids=[record.id]).get(record.id)
    if target is not None and title_key(target.title) != title_key(record.title):
        return None
    if target is not None:
        base = merge_paper(target, record)
        _move_member_rows(conn, old.id, target.id)
        conn.execute(delete(papers).where(papers.c.id == old.id))
    else:
        base = record
        conn.execute(update(papers).where(papers.c.id == old.id).values(id=record.id))
    _alias(conn, old.id, record.id)
    merged = merge_paper(base, replace(old, id=record.id, versions=[]))
    merged = replace(merged, id=record.id, published=base.published or old.published, source=base.source)
    row = _to_row(merged)
    row["changed_at"] = now_utc()
    conn.execute(update(papers).where(papers.c.id == record.id).values(**row))
    _write_children(conn, merged)
    return record.id
