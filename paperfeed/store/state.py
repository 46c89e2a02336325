"""Small named state in ``kv_state``: harvest resumption, demo seeding, index watermarks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from paperfeed.store.papers import now_utc
from paperfeed.store.schema import kv_state


def get_state(*, conn: Connection, key: str, default: Any = None) -> Any:
    row = conn.execute(select(kv_state.c.value).where(kv_state.c.key == key)).first()
    return default if row is None else row[0]


def set_state(*, conn: Connection, key: str, value: Any) -> None:
    """Insert or replace ``key`` (inside the caller's transaction)."""
    done = conn.execute(update(kv_state).where(kv_state.c.key == key).values(value=value, updated_at=now_utc()))
    if done.rowcount == 0:
        conn.execute(insert(kv_state).values(key=key, value=value, updated_at=now_utc()))


def delete_state(*, conn: Connection, key: str) -> None:
    conn.execute(delete(kv_state).where(kv_state.c.key == key))
