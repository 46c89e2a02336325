"""Public collections: a member's collection shown at ``/c/{slug}`` with its description, per-paper notes
and the owner's ordering (``collection_items.position``, then most recently added)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed.store.library import collection_items, collections
from paperfeed.store.users import users
from paperfeed.text import fold

MAX_NOTE = 2000


@dataclass
class PublicCollection:
    id: int
    name: str
    slug: str | None
    public: bool
    description: str
    owner: str
    owner_id: int


@dataclass
class Item:
    paper_id: str
    note: str
    added_at: datetime


def _free_slug(conn: Connection, name: str) -> str:
    """The collection's name as a slug (``reading-group``); ``-2``, ``-3``... only when that is taken."""
    base = re.sub(r"[^a-z0-9]+", "-", fold(name)).strip("-")[:80] or "collection"
    q = select(collections.c.slug).where((collections.c.slug == base) | collections.c.slug.like(f"{base}-%"))
    taken = set(conn.execute(q).scalars())
    n = 1
    while (slug := base if n == 1 else f"{base}-{n}") in taken:
        n += 1
    return slug


def _query() -> Select[Any]:
    cols = (collections.c.id, collections.c.name, collections.c.slug, collections.c.public)
    return select(*cols, collections.c.description, users.c.username, users.c.id.label("uid")).join(
        users, users.c.id == collections.c.user_id
    )


def _public(row: Row[Any]) -> PublicCollection:
    r = row._mapping
    return PublicCollection(
        r["id"], r["name"], r["slug"], bool(r["public"]), r["description"] or "", r["username"], r["uid"]
    )


def get_collection(*, conn: Connection, collection_id: int) -> PublicCollection | None:
    row = conn.execute(_query().where(collections.c.id == collection_id)).first()
    return _public(row) if row else None


def get_by_name(*, conn: Connection, user_id: int, name: str) -> PublicCollection | None:
    row = conn.execute(_query().where(collections.c.user_id == user_id, collections.c.name == name)).first()
    return _public(row) if row else None


def get_public(*, conn: Connection, slug: str) -> PublicCollection | None:
    """The public collection at ``slug`` (None when there is none, or it is private again)."""
    row = conn.execute(_query().where(collections.c.slug == slug, collections.c.public.is_(True))).first()
    return _public(row) if row else None


def public_collections_of(*, conn: Connection, user_id: int) -> list[PublicCollection]:
    q = _query().where(collections.c.user_id == user_id, collections.c.public.is_(True)).order_by(collections.c.id)
    return [_public(r) for r in conn.execute(q)]


def set_public(
    *, conn: Connection, user_id: int, collection_id: int, public: bool, description: str | None = None
) -> PublicCollection | None:
    """Make a member's collection public (it gets a slug the first time) or private; None if not theirs."""
    found = get_collection(conn=conn, collection_id=collection_id)
    if found is None or found.owner_id != user_id:
        return None
    values: dict[str, object] = {"public": public}
    if description is not None:
        values["description"] = description[:MAX_NOTE]
    conn.execute(update(collections).where(collections.c.id == collection_id).values(**values))
    for _ in range(20 if found.slug is None else 0):  # another member may take the same slug at the same moment
        try:
            with conn.begin_nested():
                slug = _free_slug(conn, found.name)
                conn.execute(update(collections).where(collections.c.id == collection_id).values(slug=slug))
            break
        except IntegrityError:  # uq_collections_slug: taken meanwhile, look again
            continue
    return get_collection(conn=conn, collection_id=collection_id)


def items(*, conn: Connection, collection_id: int, limit: int = 1000) -> list[Item]:
    """The papers of a collection in the owner's order."""
    q = (
        select(collection_items.c.paper_id, collection_items.c.note, collection_items.c.added_at)
        .where(collection_items.c.collection_id == collection_id)
        .order_by(collection_items.c.position, collection_items.c.added_at.desc(), collection_items.c.paper_id)
        .limit(limit)
    )
    return [Item(r.paper_id, r.note or "", r.added_at) for r in conn.execute(q)]


def _owned(conn: Connection, user_id: int, collection_id: int) -> bool:
    found = get_collection(conn=conn, collection_id=collection_id)
    return found is not None and found.owner_id == user_id


def set_note(*, conn: Connection, user_id: int, collection_id: int, paper_id: str, note: str) -> bool:
    """The owner's note on one paper of the collection; False when the paper is not in their collection."""
    if not _owned(conn, user_id, collection_id):
        return False
    q = (
        update(collection_items)
        .where(collection_items.c.collection_id == collection_id, collection_items.c.paper_id == paper_id)
        .values(note=note.strip()[:MAX_NOTE])
    )
    return bool(conn.execute(q.execution_options(preserve_rowcount=True)).rowcount)


def move(*, conn: Connection, user_id: int, collection_id: int, paper_id: str, step: int) -> bool:
    """Move a paper up (``step`` -1) or down (+1) in the collection's order (numbers every item 0, 1, ...)."""
    if not _owned(conn, user_id, collection_id):
        return False
    order = [i.paper_id for i in items(conn=conn, collection_id=collection_id, limit=100_000)]
    if paper_id not in order:
        return False
    at = order.index(paper_id)
    to = min(max(at + step, 0), len(order) - 1)
    order.insert(to, order.pop(at))
    for pos, pid in enumerate(order):
        conn.execute(
            update(collection_items)
            .where(collection_items.c.collection_id == collection_id, collection_items.c.paper_id == pid)
            .values(position=pos)
        )
    return True


def find_by_name(*, conn: Connection, name: str, username: str | None = None) -> list[PublicCollection]:
    """Collections called ``name`` (of one member when ``username`` is given), for ``paperfeed export``."""
    q = _query().where(collections.c.name == name)
    if username is not None:
        q = q.where(users.c.username == username)
    return [_public(r) for r in conn.execute(q.order_by(collections.c.id))]
