"""All paper SQL: upsert with merging, lookups by id, iteration for indexing, statistics.

Merging rules (``upsert_papers``):
- the same arXiv id is the same paper; failing that, the same normalised title is;
- a paper known only by a derived ``pf-`` id is renamed to its arXiv id when a source gives one
  (the old id stays as an alias);
- a newer version (higher version number, or a later ``updated`` date) replaces the text fields and
  adds to the version history; otherwise only missing fields are filled in;
- re-ingesting the same data changes nothing, so the report says "unchanged".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, insert, select, update

from paperfeed.ids import is_arxiv_id, normalise_title
from paperfeed.models import OPTIONAL_TEXT_FIELDS, Author, Paper, Version
from paperfeed.store.authors import write_author_rows
from paperfeed.store.schema import paper_aliases, paper_categories, paper_versions, papers

# Fields copied as they are between Paper and the papers table.
_SCALARS = ("title", "abstract", "published", "updated", *OPTIONAL_TEXT_FIELDS)
_TEXT_FIELDS = ("title", "abstract", "authors", "categories", "primary_category")
PASTED_SOURCE = "submission"  # the source of metadata a member pasted (community/submit.py)
_CHUNK = 500  # ids per IN (...) clause, below every backend's parameter limit


@dataclass
class UpsertResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def now_utc() -> datetime:
    return datetime.now(UTC)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


# ---------------------------------------------------------------- row <-> Paper


def _to_row(p: Paper) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(p, name) for name in _SCALARS}
    row.update(
        id=p.id,
        authors=[{"name": a.name, "affiliations": list(a.affiliations)} for a in p.authors],
        authors_text=", ".join(a.name for a in p.authors),
        categories=list(p.categories),
        latest_version=p.latest_version,
        source=p.source,
        title_key=normalise_title(p.title),
    )
    return row


def _from_row(row: Any, versions: list[Version]) -> Paper:
    m = row._mapping
    return Paper(
        id=m["id"],
        authors=[Author(a["name"], list(a.get("affiliations") or [])) for a in (m["authors"] or [])],
        categories=list(m["categories"] or []),
        versions=versions,
        source=m["source"],
        first_seen=m["first_seen"],
        changed_at=m["changed_at"],
        withdrawn=bool(m["withdrawn"]),
        **{name: m[name] for name in _SCALARS},
    )


_READ = ("id", "authors", "categories", "source", "first_seen", "changed_at", "withdrawn", *_SCALARS)


@cache
def _rows_by_id() -> Select[Any]:
    """The columns a Paper is made of, for the ids ``:ids`` (built once: a page pays only for running it)."""
    return select(*(papers.c[name] for name in _READ)).where(papers.c.id.in_(bindparam("ids", expanding=True)))


@cache
def _aliased() -> Select[Any]:
    return select(paper_aliases.c.alias, paper_aliases.c.paper_id).where(
        paper_aliases.c.alias.in_(bindparam("ids", expanding=True))
    )


@cache
def _versions_of() -> Select[Any]:
    v = paper_versions.c
    return select(v.paper_id, v.version, v.created, v.size).where(v.paper_id.in_(bindparam("ids", expanding=True)))


def _load_versions(conn: Connection, ids: Sequence[str]) -> dict[str, list[Version]]:
    out: dict[str, list[Version]] = {i: [] for i in ids}
    for chunk in _chunks(list(ids)):
        for r in conn.execute(_versions_of(), {"ids": list(chunk)}):
            out[r.paper_id].append(Version(r.version, r.created, r.size))
    for found in out.values():
        found.sort(key=lambda v: v.version)
    return out


# ---------------------------------------------------------------- reads


def get_papers(*, conn: Connection, ids: Sequence[str]) -> dict[str, Paper]:
    """The papers known by ``ids``, keyed by the id asked for, in the order asked; unknown ids are left out.

    An old id (an alias: a ``pf-`` id renamed to its arXiv id) maps to the paper under its current id, so
    ``found[old].id`` is the new id; ids asked for twice are answered once."""
    if not ids:
        return {}
    wanted = list(dict.fromkeys(ids))
    rows: dict[str, Any] = {}
    for chunk in _chunks(wanted):
        rows.update((r.id, r) for r in conn.execute(_rows_by_id(), {"ids": list(chunk)}))
    alias_of: dict[str, str] = {}
    missing = [i for i in wanted if i not in rows]
    for chunk in _chunks(missing):
        alias_of.update((r.alias, r.paper_id) for r in conn.execute(_aliased(), {"ids": list(chunk)}))
    targets = list({t for t in alias_of.values() if t not in rows})
    for chunk in _chunks(targets):
        rows.update((r.id, r) for r in conn.execute(_rows_by_id(), {"ids": list(chunk)}))
    versions = _load_versions(conn, list(rows))
    made = {pid: _from_row(r, versions[pid]) for pid, r in rows.items()}
    out: dict[str, Paper] = {}
    for i in wanted:
        current = i if i in made else alias_of.get(i)
        if current is not None and current in made:
            out[i] = made[current]
    return out


def get_paper(*, conn: Connection, paper_id: str) -> Paper | None:
    """One paper by id or alias (``2401.01234v2`` is read as ``2401.01234``)."""
    found = get_papers(conn=conn, ids=[paper_id]).get(paper_id)
    if found is None and "v" in paper_id:
        from paperfeed.ids import split_arxiv_id

        parsed = split_arxiv_id(paper_id)
        if parsed:
            found = get_papers(conn=conn, ids=[parsed[0]]).get(parsed[0])
    return found


def resolve_id(*, conn: Connection, paper_id: str) -> str | None:
    """The current id of a paper known by ``paper_id`` (itself or an alias), or None."""
    p = get_paper(conn=conn, paper_id=paper_id)
    return p.id if p else None


def count_papers(*, conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())


def iter_papers(
    *, conn: Connection, changed_since: datetime | None = None, batch_size: int = 1000
) -> Iterator[list[Paper]]:
    """All papers (or those changed after ``changed_since``) in batches, ordered by id, in constant memory."""
    last = ""
    while True:
        q = select(papers).where(papers.c.id > last).order_by(papers.c.id).limit(batch_size)
        if changed_since is not None:
            q = q.where(papers.c.changed_at > changed_since)
        rows = conn.execute(q).fetchall()
        if not rows:
            return
        versions = _load_versions(conn, [r.id for r in rows])
        yield [_from_row(r, versions[r.id]) for r in rows]
        last = rows[-1].id


def paper_id_by_title(*, conn: Connection, title: str) -> str | None:
    """The id of a stored paper whose title is ``title`` as compared for identity (case, accents,
    punctuation and spacing ignored), or None."""
    key = normalise_title(title)
    q = select(papers.c.id).where(papers.c.title_key == key).order_by(papers.c.id).limit(1)
    return conn.execute(q).scalar() if key else None


def all_ids(*, conn: Connection) -> list[str]:
    return list(conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars())


# ---------------------------------------------------------------- merging


def _is_newer(new: Paper, old: Paper) -> bool:
    """True when ``new`` describes a later state of the paper than ``old`` (so its text wins).

    A record without versions (HF, BibTeX) never beats one with an arXiv version history.
    """
    nv, ov = new.latest_version, old.latest_version
    if nv is None and ov is not None:
        return False
    if nv is not None and ov is not None and nv != ov:
        return nv > ov
    if new.updated and old.updated and new.updated != old.updated:
        return new.updated > old.updated
    return False


def _is_arxiv_record(p: Paper) -> bool:
    """A record that came from arXiv itself (an arXiv id with its version history), not pasted by a member."""
    return p.source != PASTED_SOURCE and is_arxiv_id(p.id) and bool(p.versions)


def merge_paper(old: Paper, new: Paper) -> Paper:
    """What the store keeps when ``new`` arrives for the already stored ``old``.

    Pasted metadata (a member's submission) is never authoritative: an arXiv record replaces its text."""
    merged = replace(old)
    arxiv_over_pasted = old.source == PASTED_SOURCE and _is_arxiv_record(new)
    if arxiv_over_pasted:
        merged.source = new.source
    if arxiv_over_pasted or _is_newer(new, old):
        for name in _SCALARS:
            value = getattr(new, name)
            if value not in (None, ""):
                setattr(merged, name, value)
        if new.authors:
            merged.authors = new.authors
        if new.categories:
            merged.categories = new.categories
    else:
        for name in _SCALARS:
            if getattr(merged, name) in (None, "") and getattr(new, name) not in (None, ""):
                setattr(merged, name, getattr(new, name))
        if not merged.authors and new.authors:
            merged.authors = new.authors
        if not merged.categories and new.categories:
            merged.categories = new.categories
    if old.published and new.published:
        merged.published = min(old.published, new.published)
    by_number = {v.version: v for v in old.versions}
    for v in new.versions:
        known = by_number.get(v.version)
        if known is None or (known.created is None and v.created is not None):
            by_number[v.version] = v
    merged.versions = [by_number[k] for k in sorted(by_number)]
    if is_arxiv_id(new.id) and not is_arxiv_id(old.id):
        merged.id = new.id
        merged.source = new.source
    return merged


def _same(a: Paper, b: Paper) -> bool:
    ra, rb = _to_row(a), _to_row(b)
    ra.pop("source"), rb.pop("source")
    va = [(v.version, v.created, v.size) for v in a.versions]
    vb = [(v.version, v.created, v.size) for v in b.versions]
    return ra == rb and va == vb


def _find_existing(conn: Connection, batch: Sequence[Paper]) -> dict[str, Paper]:
    """Stored papers matching the batch, keyed by incoming paper id (by id, alias, then title)."""
    ids = [p.id for p in batch]
    found = get_papers(conn=conn, ids=ids)  # by the incoming id: an old pf- id finds its arXiv-id paper
    unmatched = [p for p in batch if p.id not in found]
    keys = list({normalise_title(p.title) for p in unmatched})
    by_key: dict[str, str] = {}
    for chunk in _chunks(keys):
        q = select(papers.c.id, papers.c.title_key).where(papers.c.title_key.in_(chunk))
        for r in conn.execute(q):
            # An arXiv-id paper only merges by title into a derived-id paper, never into another arXiv id.
            by_key.setdefault(r.title_key, r.id)
    title_ids = {}
    for p in unmatched:
        target = by_key.get(normalise_title(p.title))
        if target is None or (is_arxiv_id(p.id) and is_arxiv_id(target)):
            continue
        title_ids[p.id] = target
    stored = get_papers(conn=conn, ids=list(set(title_ids.values())))
    for pid, target in title_ids.items():
        if target in stored:
            found[pid] = stored[target]
    return found


def _collapse(batch: Sequence[Paper]) -> list[Paper]:
    """Merge duplicates inside one batch (same id or same title key) so each paper is written once."""
    out: dict[str, Paper] = {}
    key_to_id: dict[str, str] = {}
    for p in batch:
        key = normalise_title(p.title)
        target = p.id if p.id in out else key_to_id.get(key)
        if target is not None and (target == p.id or not (is_arxiv_id(p.id) and is_arxiv_id(target))):
            merged = merge_paper(out.pop(target), p)
            out[merged.id] = merged
            key_to_id[key] = merged.id
            continue
        out[p.id] = p
        key_to_id.setdefault(key, p.id)
    return list(out.values())


def _write_children(conn: Connection, p: Paper) -> None:
    conn.execute(delete(paper_versions).where(paper_versions.c.paper_id == p.id))
    conn.execute(delete(paper_categories).where(paper_categories.c.paper_id == p.id))
    _insert_children(conn, [p])


def _insert_children(conn: Connection, batch: Sequence[Paper]) -> None:
    versions = [
        {"paper_id": p.id, "version": v.version, "created": v.created, "size": v.size}
        for p in batch
        for v in p.versions
    ]
    cats = [{"paper_id": p.id, "category": c} for p in batch for c in dict.fromkeys(p.categories)]
    if versions:
        conn.execute(insert(paper_versions), versions)
    if cats:
        conn.execute(insert(paper_categories), cats)
    write_author_rows(conn, batch)  # author pages (store/authors.py)


def upsert_papers(*, conn: Connection, papers_in: Sequence[Paper]) -> UpsertResult:
    """Store a batch of papers, merging with what is there. Runs inside the caller's transaction."""
    result = UpsertResult()
    batch = _collapse(papers_in)
    existing = _find_existing(conn, batch)
    now = now_utc()
    new_rows: list[Paper] = []
    for p in batch:
        old = existing.get(p.id)
        if old is None:
            new_rows.append(p)
            continue
        merged = merge_paper(old, p)
        if _same(merged, old) and merged.id == old.id:
            result.unchanged.append(old.id)
            continue
        if merged.id != old.id:
            conn.execute(update(papers).where(papers.c.id == old.id).values(id=merged.id))
            conn.execute(insert(paper_aliases).values(alias=old.id, paper_id=merged.id))
            conn.execute(update(paper_aliases).where(paper_aliases.c.paper_id == old.id).values(paper_id=merged.id))
        row = _to_row(merged)
        row["changed_at"] = now
        conn.execute(update(papers).where(papers.c.id == merged.id).values(**row))
        _write_children(conn, merged)
        result.updated.append(merged.id)
    if new_rows:
        rows = []
        # Arrival numbers continue the store's: ties of one timestamp list in the order papers arrived.
        last = conn.execute(select(func.max(papers.c.arrival))).scalar() or 0
        for n, p in enumerate(new_rows, start=1):
            row = _to_row(p)
            row.update(first_seen=p.first_seen or now, changed_at=now, withdrawn=False, arrival=last + n)
            rows.append(row)
        conn.execute(insert(papers), rows)
        _insert_children(conn, new_rows)
        result.added.extend(p.id for p in new_rows)
    return result


def mark_withdrawn(*, conn: Connection, ids: Sequence[str]) -> list[str]:
    """Mark stored papers withdrawn (their source deleted them); nothing is removed. Aliases are followed.

    Returns the ids newly marked; unknown ids and papers already withdrawn are left alone."""
    targets = list(dict.fromkeys(p.id for p in get_papers(conn=conn, ids=ids).values()))
    if not targets:
        return []
    marked: list[str] = []
    for chunk in _chunks(targets):
        live = [
            r[0] for r in conn.execute(select(papers.c.id).where(papers.c.id.in_(chunk), papers.c.withdrawn.is_(False)))
        ]
        if live:
            conn.execute(
                update(papers).where(papers.c.id.in_(live)).values(withdrawn=True, changed_at=datetime.now(UTC))
            )
            marked.extend(live)
    return marked


# ---------------------------------------------------------------- statistics


def paper_stats(*, conn: Connection) -> dict[str, Any]:
    """Counts for ``paperfeed stats``: total, by source, by month of publication (or first seen)."""
    total = count_papers(conn=conn)
    by_source = {
        r[0]: r[1]
        for r in conn.execute(select(papers.c.source, func.count()).group_by(papers.c.source).order_by(papers.c.source))
    }
    when = func.coalesce(papers.c.published, papers.c.first_seen)
    if conn.dialect.name == "sqlite":
        month_of = func.substr(when, 1, 7)
    else:
        month_of = func.to_char(when, "YYYY-MM")
    month = {
        r[0] or "unknown": r[1]
        for r in conn.execute(select(month_of.label("m"), func.count()).group_by(month_of).order_by(month_of))
    }
    top_cats = [
        {"category": r[0], "papers": r[1]}
        for r in conn.execute(
            select(paper_categories.c.category, func.count().label("n"))
            .group_by(paper_categories.c.category)
            .order_by(func.count().desc())
            .limit(20)
        )
    ]
    return {
        "papers": total,
        "by_source": by_source,
        "by_month": dict(sorted(month.items())),
        "top_categories": top_cats,
    }
