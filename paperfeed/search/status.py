"""The state of the search indexes, read from their files: ``paperfeed status``, ``stats`` and ``index --check``.

Reads only: it opens no index, no writer, loads no model and creates no folder, so it is safe beside a running
server. The figures match what a server reports in its answers (:mod:`paperfeed.search.readiness`):

- ``papers`` in the store, ``lexical_docs`` in the keyword index (from tantivy's ``meta.json``);
- ``model`` whose vectors answer meaning-based search now and its ``vectors``: the configured model once it
  has embedded every paper, before that the interim static model when that has (see ``model_loader``);
- ``pending``: papers the configured model (or the keyword index) has not caught up with yet;
- ``state``: ``ready``, ``building``, ``damaged`` (files that do not match their manifest) or ``off``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search import index_files
from paperfeed.search.model_loader import INTERIM
from paperfeed.store.index_sync import change_marker, count_changed_since


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _lexical_docs(folder: Path) -> int:
    """Documents in the tantivy index, from its ``meta.json`` (segments' documents minus deletions)."""
    meta = _read_json(folder / "meta.json")
    total = 0
    for seg in meta.get("segments") or []:
        deletes = seg.get("deletes") or {}
        total += int(seg.get("max_doc") or 0) - int(deletes.get("num_deleted_docs") or 0)
    return max(total, 0)


def _pending(engine: Engine, meta: dict[str, Any], papers: int, marker: list[Any]) -> int:
    """Papers changed after the last refresh of an index whose metadata is ``meta``."""
    if meta.get("marker") == marker:
        return 0
    seen = meta.get("marker") or [0, None]
    if not seen[1]:
        return papers
    with engine.connect() as conn:
        return count_changed_since(conn=conn, since=datetime.fromisoformat(seen[1]))


def _vectors(folder: Path) -> int:
    """Papers with a live vector in a vector folder: read from the ids files, no matrix, no model."""
    meta = _read_json(folder / "meta.json")
    if not meta:
        return 0
    ids: list[str] = []
    for name in meta.get("segments", []):
        seg = _read_json_list(folder / f"{name}.ids.json")
        if seg is None:
            return 0  # damaged: counts as none (rebuilt)
        ids.extend(seg)
    row_of = {pid: row for row, pid in enumerate(ids)}
    dropped = {r for r in meta.get("dropped_rows", []) if r < len(ids)}
    return sum(1 for row in row_of.values() if row not in dropped)


def _read_json_list(path: Path) -> list[str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def check_folders(settings: Settings, *, full: bool = False) -> list[dict[str, str | None]]:
    """Each index folder with ``status``: ``ok``, ``damaged`` (with ``problem``), ``unverified`` (made
    before manifests existed) or ``absent`` (not built yet). ``full``: compare every file's checksum."""
    folders = [settings.index_dir / "lexical"]
    if settings.embedder != "none":
        folders.append(settings.index_dir / "dense" / settings.embedder)
        if settings.embedder != INTERIM:
            folders.append(settings.index_dir / "dense" / INTERIM)
    out: list[dict[str, str | None]] = []
    for folder in folders:
        if not folder.is_dir() or not any(folder.iterdir()):
            status, problem = "absent", None
        elif not (folder / index_files.MANIFEST).exists():
            status, problem = "unverified", None
        else:
            problem = index_files.check(folder, full=full)
            status = "ok" if problem is None else "damaged"
        out.append({"path": str(folder), "status": status, "problem": problem})
    return out


def index_status(settings: Settings, engine: Engine, *, full: bool = False) -> dict[str, Any]:
    """``papers``, ``lexical_docs``, ``vectors``, ``model``, ``pending`` and ``state`` (see the module)."""
    with engine.connect() as conn:
        count, latest = change_marker(conn=conn)
    if settings.search_backend == "postgres":
        return _postgres_status(settings, engine, count)
    marker = [count, latest.isoformat() if latest else None]
    lexical_dir = settings.index_dir / "lexical"
    lexical_docs = _lexical_docs(lexical_dir)
    pending = _pending(engine, _read_json(lexical_dir / "paperfeed.json"), count, marker)
    model: str = settings.embedder
    vectors = 0
    if settings.embedder != "none":
        folder = settings.index_dir / "dense" / settings.embedder
        have = _vectors(folder)
        pending = max(pending, _pending(engine, _read_json(folder / "meta.json"), count, marker), count - have)
        model, vectors = settings.embedder, have
        interim = _vectors(settings.index_dir / "dense" / INTERIM) if settings.embedder != INTERIM else 0
        if have < count and interim > have:
            model, vectors = INTERIM, interim
    damaged = any(f["status"] == "damaged" for f in check_folders(settings, full=full))
    if damaged:
        state = "damaged"
    elif settings.embedder == "none":
        state = "off"
    elif vectors < count or lexical_docs < count:
        state = "building"
    else:
        state = "ready"
    return {
        "papers": count,
        "lexical_docs": lexical_docs,
        "vectors": vectors,
        "model": model,
        "pending": max(pending, 0),
        "state": state,
        "index_dir": str(settings.index_dir),
    }


def _postgres_status(settings: Settings, engine: Engine, count: int) -> dict[str, Any]:
    """On the PostgreSQL backend the full-text column is always in step; vectors live in a table."""
    vectors = 0
    if settings.embedder != "none":
        try:
            from paperfeed.search.pg_dense import PgDense

            vectors = len(PgDense.open(engine, settings.embedder))
        except Exception:  # noqa: BLE001 - no vector table yet: nothing embedded
            vectors = 0
    pending = max(0, count - vectors) if settings.embedder != "none" else 0
    if settings.embedder == "none":
        state = "off"
    else:
        state = "ready" if vectors >= count else "building"
    return {
        "papers": count,
        "lexical_docs": count,
        "vectors": vectors,
        "model": settings.embedder,
        "pending": pending,
        "state": state,
        "index_dir": "postgresql",
    }
