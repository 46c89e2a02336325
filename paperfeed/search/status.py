"""How far the search indexes are behind the store, for ``paperfeed stats`` and ``paperfeed index``.

Reads only: it opens no writer, loads no model and creates no folder, so it is safe beside a running server.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search.lexical import META_FILE
from paperfeed.store.index_sync import change_marker, count_changed_since


def _read_json(path: Any) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _lexical_docs(settings: Settings) -> int:
    folder = settings.index_dir / "lexical"
    if not (folder / META_FILE).is_file():
        return 0
    try:
        from paperfeed.search.lexical import LexicalIndex

        return LexicalIndex.open(folder).count()
    except Exception:  # noqa: BLE001 - a damaged index counts as empty: `paperfeed index` rebuilds it
        return 0


def _pending(engine: Engine, meta: dict[str, Any], papers: int, marker: list[Any]) -> int:
    """Papers changed after the last refresh of an index whose metadata is ``meta``."""
    if meta.get("marker") == marker:
        return 0
    seen = meta.get("marker") or [0, None]
    if not seen[1]:
        return papers
    with engine.connect() as conn:
        return count_changed_since(conn=conn, since=datetime.fromisoformat(seen[1]))


def index_status(settings: Settings, engine: Engine) -> dict[str, Any]:
    """``papers`` in the store, ``lexical_docs`` indexed, ``model`` and its ``vectors``, and ``pending``:
    papers added or changed since the last refresh (what ``paperfeed index`` would pick up)."""
    with engine.connect() as conn:
        count, latest = change_marker(conn=conn)
    if getattr(settings, "search_backend", "auto") == "postgres":
        return _postgres_status(settings, engine, count)
    marker = [count, latest.isoformat() if latest else None]
    lexical_meta = _read_json(settings.index_dir / "lexical" / META_FILE)
    out: dict[str, Any] = {
        "papers": count,
        "lexical_docs": _lexical_docs(settings),
        "model": settings.embedder,
        "vectors": 0,
        "index_dir": str(settings.index_dir),
    }
    pending = _pending(engine, lexical_meta, count, marker)
    if settings.embedder != "none":
        dense_meta = _read_json(settings.index_dir / "dense" / settings.embedder / "meta.json")
        out["vectors"] = _vectors(settings) if dense_meta else 0
        pending = max(pending, _pending(engine, dense_meta, count, marker))
    out["pending"] = pending
    return out


def _vectors(settings: Settings) -> int:
    """Papers with a live vector of the configured model: read from the ids files, no matrix, no model."""
    try:
        from paperfeed.search.vectors import VectorStore

        store = VectorStore.load(settings.index_dir / "dense" / settings.embedder)
    except Exception:  # noqa: BLE001 - damaged vectors count as none: `paperfeed index` rebuilds them
        return 0
    ids = store.all_ids()
    row_of = {pid: row for row, pid in enumerate(ids)}
    dropped = {r for r in store.meta.get("dropped_rows", []) if r < len(ids)}
    return sum(1 for row in row_of.values() if row not in dropped)


def _postgres_status(settings: Settings, engine: Engine, count: int) -> dict[str, Any]:
    """On the PostgreSQL backend the full-text column is always in step; vectors live in a table."""
    vectors = 0
    if settings.embedder != "none":
        try:
            from paperfeed.search.pg_backend import PgDense

            vectors = len(PgDense.open(engine, settings.embedder))
        except Exception:  # noqa: BLE001 - no vector table yet: nothing embedded
            vectors = 0
    pending = max(0, count - vectors) if settings.embedder != "none" else 0
    return {
        "papers": count,
        "lexical_docs": count,
        "model": settings.embedder,
        "vectors": vectors,
        "index_dir": "postgresql",
        "pending": pending,
    }
