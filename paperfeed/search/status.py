"""The state of the search indexes as the newest published manifest says: ``paperfeed status``, ``stats``,
``index --check`` and ``/status``.

Reads only: it opens no index, no writer, loads no model and creates no folder, so it is safe beside a running
server. It reads the same manifest every answer's warning comes from (:mod:`paperfeed.search.readiness`), so
the two agree at every moment: ``papers``, ``lexical_docs``, ``vectors``, ``model``, ``pending``, ``state``
(``ready``, ``building``, ``damaged`` or ``off``), plus ``generation`` and ``as_of`` (when it was published).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.search import index_files, readiness
from paperfeed.search.generations import DbGenerations, FileGenerations, Generations, Manifest
from paperfeed.store.index_sync import change_marker


def _generations(settings: Settings, engine: Engine) -> Generations:
    if settings.search_backend == "postgres":
        return DbGenerations(engine)
    return FileGenerations(settings.index_dir)


def check_folders(settings: Settings, *, full: bool = False) -> list[dict[str, str | None]]:
    """Each folder of the newest published generation with ``status``: ``ok``, ``damaged`` (with
    ``problem``) or ``absent`` (nothing published yet). ``full``: compare every file's checksum."""
    if settings.search_backend == "postgres":
        return []
    files = FileGenerations(settings.index_dir)
    manifest = files.current()
    if manifest is None:
        generations = files.root.is_dir() and any(p for p in files.root.iterdir() if not p.name.startswith("."))
        problem = f"{files.pointer}: missing" if generations else None
        return [{"path": str(files.pointer), "status": "damaged" if problem else "absent", "problem": problem}]
    out: list[dict[str, str | None]] = []
    for rel in manifest.folders():
        folder = files.folder(manifest, rel)
        if not (folder / index_files.MANIFEST).is_file():
            status, problem = "damaged", f"{folder}: missing"
        else:
            problem = index_files.check(folder, full=full)
            status = "ok" if problem is None else "damaged"
        out.append({"path": str(folder), "status": status, "problem": problem})
    return out


def index_status(settings: Settings, engine: Engine, *, full: bool = False) -> dict[str, Any]:
    """The figures of the newest published manifest (see the module); ``full`` checks every file's digest."""
    manifest = _generations(settings, engine).current()
    papers = 0
    if manifest is None:
        with engine.connect() as conn:
            papers = change_marker(conn=conn)[0]
    configured = None if settings.embedder == "none" else settings.embedder
    if manifest is not None and full and not manifest.damage:
        problems = [f["problem"] for f in check_folders(settings, full=True) if f["status"] == "damaged"]
        if problems:
            manifest = Manifest(**{**manifest.to_json(), "damage": problems})
    state = dict(readiness.index_state(manifest, configured, None, papers_in_store=papers))
    state["generation"] = manifest.generation if manifest is not None else None
    state["as_of"] = manifest.created if manifest is not None else None
    state["index_dir"] = "postgresql" if settings.search_backend == "postgres" else str(settings.index_dir)
    return state
