"""Published index generations: what the one index writer hands to every reader, and the one truth about readiness.

Embedded backend (tantivy + vector files), under ``settings.index_dir``::

    work/lexical/, work/dense/<model>/     the writer's working folders (only the writer opens them)
    generations/<name>/lexical/            an immutable published generation: its files never change,
    generations/<name>/dense/<model>/      each folder with a manifest of its files (sizes, digests)
    generations/<name>/manifest.json       what the generation holds (:class:`Manifest`)
    CURRENT                                the pointer: the newest generation's manifest, replaced atomically
    writer.lock                            held by the writer while it works

Publishing copies each new working file once into the new generation (an unchanged file is linked from the
previous generation), writes the folders' manifests, then replaces ``CURRENT`` in one rename. Readers only read
``CURRENT``; a generation's files are never written after it is published, so no reader ever sees a half-made
index. On PostgreSQL the words and vectors live in the database and the manifest is a row of ``state``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from paperfeed.search import index_files
from paperfeed.search.sync import file_lock
from paperfeed.store.state import get_state, set_state

POINTER = "CURRENT"
MANIFEST = "manifest.json"
KEEP_GENERATIONS = 3  # the newest few stay (a reader may still be copying one); older ones are removed
KEEP_SECONDS = 120.0  # ... and none younger than this
PG_STATE_KEY = "search_index_manifest"


@dataclass
class Manifest:
    """What one published generation holds. ``papers``: papers in the store when it was made; ``vectors``:
    papers with a vector, per model; ``marker``: the store's change marker it is up to date with;
    ``damage``: what is wrong with the files readers use (set by the writer until a repaired generation is out);
    ``embedding``: the embedder's measured path and rate, when the writer knows it."""

    generation: str
    created: str
    papers: int = 0
    lexical_docs: int = 0
    vectors: dict[str, int] = field(default_factory=dict)
    marker: list[Any] = field(default_factory=lambda: [0, None])
    damage: list[str] = field(default_factory=list)
    embedding: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Manifest | None:
        if not isinstance(data, dict) or not isinstance(data.get("generation"), str):
            return None
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        try:
            return cls(**known)
        except TypeError:
            return None

    def folders(self) -> list[str]:
        """The folders of this generation, relative to it."""
        return ["lexical", *(f"dense/{m}" for m in self.vectors)]


class Generations(Protocol):
    """Where the writer publishes and readers look: files under the index directory, or a database row."""

    def current(self) -> Manifest | None:
        """The newest published manifest (None before the first)."""
        ...

    def publish(self, manifest: Manifest, work: dict[str, Path]) -> Manifest:
        """Make ``manifest`` (and, for files, the ``work`` folders it names) the newest generation."""
        ...

    def mark_damage(self, damage: list[str]) -> None:
        """Say (or, with an empty list, stop saying) that the newest generation's files are damaged."""
        ...


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class FileGenerations:
    """Generations as folders under ``index_dir`` with the ``CURRENT`` pointer file."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = Path(index_dir)

    @property
    def root(self) -> Path:
        return self.index_dir / "generations"

    @property
    def pointer(self) -> Path:
        return self.index_dir / POINTER

    def work(self, folder: str) -> Path:
        """The writer's working copy of ``folder`` (``lexical``, ``dense/<model>``)."""
        return self.index_dir / "work" / folder

    def folder(self, manifest: Manifest, name: str) -> Path:
        """Where folder ``name`` of the generation ``manifest`` lies."""
        return self.root / manifest.generation / name

    def current(self) -> Manifest | None:
        try:
            data = json.loads(self.pointer.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Manifest.from_json(data)

    def pointer_stamp(self) -> tuple[int, int, int] | None:
        """A cheap stamp of the pointer file (one ``stat``): it changes whenever a generation is published."""
        try:
            st = os.stat(self.pointer)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def publish(self, manifest: Manifest, work: dict[str, Path], *, fresh: bool = False) -> Manifest:
        """A new generation holding a snapshot of the ``work`` folders (name -> working folder), then the
        pointer to it. Files the previous generation holds unchanged are linked, never copied again (``fresh``:
        every file copied, the previous generation's files being damaged)."""
        previous = None if fresh else self.current()
        name = _next_name(self.root)
        target = self.root / name
        staging = self.root / f".{name}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            for rel, src in work.items():
                before = self.folder(previous, rel) if previous is not None else None
                _snapshot(src, staging / rel, before)
            manifest.generation = name
            manifest.created = now_iso()
            _write_json(staging / MANIFEST, manifest.to_json())
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _write_json(self.pointer, manifest.to_json())
        self._prune(keep=name)
        return manifest

    def mark_damage(self, damage: list[str]) -> None:
        current = self.current()
        if current is None or current.damage == damage:
            return
        current.damage = list(damage)
        _write_json(self.pointer, current.to_json())

    def check(self, manifest: Manifest, *, full: bool = False) -> list[str]:
        """What is wrong with the files of generation ``manifest`` (empty: nothing)."""
        gen = self.root / manifest.generation
        if not gen.is_dir():
            return [f"{gen}: missing (the index directory was removed or changed)"]
        problems = []
        for rel in manifest.folders():
            folder = gen / rel
            if folder.exists() and not folder.is_dir():
                problems.append(f"{folder}: a file where the index folder belongs")
                continue
            if not (folder / index_files.MANIFEST).is_file():
                problems.append(f"{folder}: missing")
                continue
            problem = index_files.check(folder, full=full)
            if problem is not None:
                problems.append(problem)
        return problems

    def _prune(self, keep: str) -> None:
        if not self.root.is_dir():
            return
        names = sorted((p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)
        horizon = time.time() - KEEP_SECONDS
        for old in names[KEEP_GENERATIONS:]:
            if old.name != keep and old.stat().st_mtime < horizon:
                shutil.rmtree(old, ignore_errors=True)
        for debris in self.root.glob(".*.tmp-*"):
            pid = debris.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and not index_files.alive(int(pid)):
                shutil.rmtree(debris, ignore_errors=True)

    @contextmanager
    def writer_lock(self, *, blocking: bool = True) -> Iterator[bool]:
        """The one writer of this index directory, between processes and threads."""
        with file_lock(self.index_dir / "writer.lock", blocking) as got:
            yield got


class DbGenerations:
    """PostgreSQL: words and vectors are in the database; the manifest is the ``state`` row the writer updates."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def current(self) -> Manifest | None:
        with self.engine.connect() as conn:
            return Manifest.from_json(get_state(conn=conn, key=PG_STATE_KEY))

    def publish(self, manifest: Manifest, work: dict[str, Path]) -> Manifest:
        previous = self.current()
        number = int(previous.generation.lstrip("g") or 0) + 1 if previous is not None else 1
        manifest.generation = f"g{number:08d}"
        manifest.created = now_iso()
        with self.engine.begin() as conn:
            set_state(conn=conn, key=PG_STATE_KEY, value=manifest.to_json())
        return manifest

    def mark_damage(self, damage: list[str]) -> None:
        """Nothing on PostgreSQL can be damaged under a running server by touching files."""


def _next_name(root: Path) -> str:
    numbers = [int(p.name[1:]) for p in root.glob("g*") if p.name[1:].isdigit()] if root.is_dir() else []
    return f"g{max(numbers, default=0) + 1:08d}"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``path`` atomically (a temporary file renamed over it) and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _snapshot(src: Path, dst: Path, previous: Path | None) -> None:
    """Copy the working folder ``src`` into the new folder ``dst``: files ``previous`` (the same folder of the
    last generation) holds with the same size and digest are linked from there; the others are copied once.
    The working folder is the writer's alone, so its files can be read without a lock."""
    dst.mkdir(parents=True, exist_ok=True)
    old = index_files.read_manifest(previous) if previous is not None else None
    old_files = (old or {}).get("files", {})
    known = _work_digests(src)
    files: dict[str, dict[str, Any]] = {}
    for path in index_files.files_of(src):
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        digest = known.get(path.name, {}).get(key) or index_files.digest_file(path)
        prev = old_files.get(path.name)
        target = dst / path.name
        if previous is not None and prev and prev["digest"] == digest and prev["size"] == st.st_size:
            try:
                os.link(previous / path.name, target)
                tst = target.stat()
                files[path.name] = {"size": tst.st_size, "mtime_ns": tst.st_mtime_ns, "digest": digest}
                _remember(src, path.name, key, digest)
                continue
            except OSError:
                target.unlink(missing_ok=True)
        shutil.copyfile(path, target)
        tst = target.stat()
        files[path.name] = {"size": tst.st_size, "mtime_ns": tst.st_mtime_ns, "digest": digest}
        _remember(src, path.name, key, digest)
    _write_json(dst / index_files.MANIFEST, {"generation": dst.parent.name, "files": files})


_DIGESTS: dict[str, dict[str, dict[tuple[int, int, int], str]]] = {}


def _work_digests(src: Path) -> dict[str, dict[tuple[int, int, int], str]]:
    """Digests of working files already read by this process (keyed by size, time and inode: a rewritten
    file is read again)."""
    return _DIGESTS.setdefault(str(src), {})


def _remember(src: Path, name: str, key: tuple[int, int, int], digest: str) -> None:
    _DIGESTS.setdefault(str(src), {})[name] = {key: digest}
