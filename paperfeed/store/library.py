"""A member's library: named collections (a default "Saved" one first) and the papers saved in them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select
from sqlalchemy.schema import Column, Index, Table, UniqueConstraint
from sqlalchemy.types import Boolean, Integer, String, Text

from paperfeed.store.account_errors import AccountError, AlreadyExists
from paperfeed.store.papers import now_utc
from paperfeed.store.rate_limits import serialise
from paperfeed.store.schema import UTCDateTime, metadata, paper_ref, serial_id
from paperfeed.store.sql_helpers import insert_ignore, member_ref, user_fk

collections = Table(
    "collections",
    metadata,
    serial_id(),
    member_ref(nullable=False),
    Column("name", String(100), nullable=False),
    Column("is_default", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Public at /c/{slug} (store/public_collections.py, migration 0011)
    Column("public", Boolean, nullable=False, default=False, server_default="0"),
    Column("slug", String(120), unique=True),
    Column("description", Text, nullable=False, default="", server_default=""),
    UniqueConstraint("user_id", "name", name="uq_collections_user_id_name"),
)

collection_items = Table(
    "collection_items",
    metadata,
    Column("collection_id", Integer, user_fk("collections.id"), primary_key=True),
    paper_ref(primary_key=True),
    Column("added_at", UTCDateTime, nullable=False),
    Column("note", Text, nullable=False, default="", server_default=""),
    Column("position", Integer, nullable=False, default=0, server_default="0"),
)
Index("ix_collection_items_paper_id", collection_items.c.paper_id)

DEFAULT_COLLECTION = "Saved"


@dataclass
class Collection:
    id: int
    name: str
    is_default: bool
    count: int = 0


def create_collection(*, conn: Connection, user_id: int, name: str, is_default: bool = False) -> Collection:
    """A named collection; raises :class:`AccountError` (field ``name``) if empty, :class:`AlreadyExists` if
    the member already has one of that name (exact under concurrency)."""
    name = " ".join(name.split())[:100]
    if not name:
        raise AccountError("name", "a collection needs a name")
    serialise(conn, f"collections:user:{user_id}")  # parallel creates with one name: one row, the rest 409
    exists = select(collections.c.id).where(collections.c.user_id == user_id, collections.c.name == name)
    if conn.execute(exists).first() is not None:
        raise AlreadyExists("name", f"you already have a collection named {name!r}")
    result = conn.execute(
        insert(collections).values(user_id=user_id, name=name, is_default=is_default, created_at=now_utc())
    )
    return Collection(int(result.inserted_primary_key[0]), name, is_default, 0)  # type: ignore[index]


def _default_collection_id(conn: Connection, user_id: int) -> int:
    q = select(collections.c.id).where(collections.c.user_id == user_id, collections.c.is_default.is_(True))
    found = conn.execute(q).scalar()
    if found is not None:
        return int(found)
    return create_collection(conn=conn, user_id=user_id, name=DEFAULT_COLLECTION, is_default=True).id


def _owned(conn: Connection, user_id: int, collection_id: int) -> bool:
    q = select(collections.c.id).where(collections.c.id == collection_id, collections.c.user_id == user_id)
    return conn.execute(q).first() is not None


def collections_for_user(*, conn: Connection, user_id: int) -> list[Collection]:
    """The member's collections (default "Saved" first) with how many papers each holds."""
    q = (
        select(collections.c.id, collections.c.name, collections.c.is_default, func.count(collection_items.c.paper_id))
        .select_from(collections.outerjoin(collection_items, collection_items.c.collection_id == collections.c.id))
        .where(collections.c.user_id == user_id)
        .group_by(collections.c.id, collections.c.name, collections.c.is_default)
        .order_by(collections.c.is_default.desc(), collections.c.name)
    )
    return [Collection(int(r[0]), r[1], bool(r[2]), int(r[3])) for r in conn.execute(q)]


def delete_collection(*, conn: Connection, user_id: int, collection_id: int) -> bool:
    """Delete one of the member's own collections (the default one stays)."""
    q = delete(collections).where(
        collections.c.id == collection_id, collections.c.user_id == user_id, collections.c.is_default.is_(False)
    )
    return bool(conn.execute(q).rowcount)


def library_add(*, conn: Connection, user_id: int, paper_id: str, collection_id: int | None = None) -> bool:
    """Save a paper to a collection (default "Saved"); True if newly added. Unknown collection: False."""
    cid = collection_id if collection_id is not None else _default_collection_id(conn, user_id)
    if not _owned(conn, user_id, cid):
        return False
    return insert_ignore(conn, collection_items, {"collection_id": cid, "paper_id": paper_id, "added_at": now_utc()})


def library_remove(*, conn: Connection, user_id: int, paper_id: str, collection_id: int | None = None) -> bool:
    """Remove a paper from one collection, or with no ``collection_id`` from all the member's collections."""
    owned = select(collections.c.id).where(collections.c.user_id == user_id)
    if collection_id is not None:
        owned = owned.where(collections.c.id == collection_id)
    q = delete(collection_items).where(
        collection_items.c.paper_id == paper_id, collection_items.c.collection_id.in_(owned.scalar_subquery())
    )
    return bool(conn.execute(q).rowcount)


def library_list(
    *, conn: Connection, user_id: int, collection_id: int | None = None, offset: int = 0, limit: int = 100
) -> list[str]:
    """Saved paper ids, most recently saved first: one collection, or all of them (each paper once)."""
    added = func.max(collection_items.c.added_at).label("added")
    q = (
        select(collection_items.c.paper_id, added)
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(collections.c.user_id == user_id)
    )
    if collection_id is not None:
        q = q.where(collections.c.id == collection_id)
    q = q.group_by(collection_items.c.paper_id).order_by(added.desc(), collection_items.c.paper_id)
    return list(conn.execute(q.offset(max(offset, 0)).limit(max(limit, 0))).scalars())


def saved_ids(*, conn: Connection, user_id: int, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are in any of the member's collections."""
    if not ids:
        return set()
    q = (
        select(collection_items.c.paper_id)
        .distinct()
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(and_(collections.c.user_id == user_id, collection_items.c.paper_id.in_(list(ids))))
    )
    return set(conn.execute(q).scalars())


def paper_collections(*, conn: Connection, user_id: int, paper_id: str) -> set[int]:
    """Ids of the member's collections that hold ``paper_id``."""
    q = (
        select(collection_items.c.collection_id)
        .join(collections, collections.c.id == collection_items.c.collection_id)
        .where(collections.c.user_id == user_id, collection_items.c.paper_id == paper_id)
    )
    return {int(x) for x in conn.execute(q).scalars()}
