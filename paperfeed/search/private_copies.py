"""Private copies of the index files for a server, and damage to the visible ones: found, said, repaired.

Mixed into :class:`paperfeed.search.upkeep.IndexUpkeep`. A server (``serving``) reads and writes copies of
the index folders in a private folder outside the data directory (:mod:`~paperfeed.search.index_files`), so
truncating, deleting or corrupting the files under the index directory can never reach the pages it maps
(before, truncating them killed the process with SIGBUS). :meth:`PrivateCopies.check_files` compares the
visible folders with their manifests before searches; damage is noted (every answer then carries a warning)
and :meth:`PrivateCopies.repair` writes the folders again from the private copies, or the refresh rebuilds
them from the store when no good copy exists (a server started on damaged files).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.search import index_files as snapshot
from paperfeed.search.protocols import DenseBackend, LexicalBackend
from paperfeed.search.sync import file_lock

log = logging.getLogger("paperfeed.search.upkeep")
LOCK_WAIT = 10.0  # seconds a copy waits for another writer of the folder before copying anyway


class FolderBusy(RuntimeError):
    """Another writer holds an index folder: its copy is made at a later look."""


class PrivateCopies:
    """The private-copy and damage bookkeeping of an :class:`~paperfeed.search.upkeep.IndexUpkeep`."""

    backend: str
    settings: Settings
    serving: bool
    lexical: LexicalBackend
    damage: dict[str, str]
    _private: Path | None
    _generation: dict[str, str | None]
    _copies: int
    _dense: dict[str, DenseBackend]
    _dense_root: dict[str, Path]
    _repairing: threading.Thread | None = None

    @property
    def lexical_dir(self) -> Path:
        return self.settings.index_dir / "lexical"

    def dense_dir(self, model: str) -> Path:
        return self.settings.index_dir / "dense" / model

    def _private_copy(
        self, kind: str, visible: Path, target: Path, *, locked: bool = False, wait: float = LOCK_WAIT
    ) -> str | None:
        """Copy ``visible`` into ``target`` (verified), holding its writer lock unless the caller does (or
        another writer keeps it longer than ``wait`` seconds; ``wait=0``: raise :class:`FolderBusy` then);
        returns what was wrong, or None. A damaged folder leaves ``target`` empty: the refresh rebuilds it."""
        if locked:
            return self._copy_now(kind, visible, target)
        with file_lock(lock_of(visible), blocking=False, wait=wait) as got:
            if not got and not wait:
                raise FolderBusy(f"{visible} is being written")
            return self._copy_now(kind, visible, target)

    def _copy_now(self, kind: str, visible: Path, target: Path) -> str | None:
        reuse = getattr(self, f"_reuse_{kind}", None)
        try:
            if snapshot.read_manifest(visible) is None:
                target.parent.mkdir(parents=True, exist_ok=True)
                if visible.is_dir() and (visible / snapshot.MANIFEST).exists():
                    raise snapshot.IndexFilesError(f"{visible / snapshot.MANIFEST}: unreadable")
                if visible.is_dir():  # made before manifests existed: copied as it is, checked by opening
                    shutil.copytree(visible, target, ignore=shutil.ignore_patterns("*.lock", "*.tmp*"))
                else:
                    target.mkdir()
                self._generation[str(visible)] = None
                return None
            manifest = snapshot.copy_verified(visible, target, reuse=reuse)
            self._generation[str(visible)] = manifest["generation"]
            return None
        except snapshot.IndexFilesError as exc:
            target.mkdir(parents=True, exist_ok=True)
            self._generation[str(visible)] = "damaged"
            return str(exc)
        finally:
            setattr(self, f"_reuse_{kind}", target)

    def _new_private(self, name: str) -> Path:
        """A new folder for a copy of ``name``; copies older than the last two are removed (a search that
        started on one of them keeps its open files)."""
        assert self._private is not None
        self._copies += 1
        kept = sorted(self._private.glob(f"{name}-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
        for old in kept[:-1]:
            shutil.rmtree(old, ignore_errors=True)
        return self._private / f"{name}-{self._copies}"

    def _copy_dense(self, model: str, *, locked: bool = False, wait: float = LOCK_WAIT) -> Path:
        """A new private copy of the visible vectors of ``model``; returns its root."""
        visible = self.dense_dir(model)
        root = self._new_private(f"dense-{model}")
        problem = self._private_copy(f"dense_{model}", visible, root / "dense" / model, locked=locked, wait=wait)
        if problem is not None:
            self._note_damage(visible, problem)
        self._dense_root[model] = root
        return root

    def _note_damage(self, visible: Path, problem: str) -> None:
        if str(visible) not in self.damage:
            log.warning("search index files damaged: %s; they are rebuilt (a server: in the background)", problem)
        self.damage[str(visible)] = problem

    def check_files(self) -> None:
        """Compare the visible index folders with their manifests (cheap: sizes and times); a damaged one is
        noted (every answer says so) and repaired in the background."""
        if self.backend != "tantivy":
            return
        folders = [(self.lexical_dir, lock_of(self.lexical_dir))]
        folders += [(self.dense_dir(m), lock_of(self.dense_dir(m))) for m in list(self._dense)]
        for visible, lock in folders:
            with file_lock(lock, blocking=False) as got:
                if not got:
                    continue  # being written: looked at next time
                problem = snapshot.check(visible)
                known = self._generation.get(str(visible)) not in (None, "damaged")
                if problem is None and known and snapshot.read_manifest(visible) is None:
                    problem = f"{visible}: deleted (its manifest is gone)"
            if problem is not None:
                self._note_damage(visible, problem)
        if self.damage and self.serving:
            self.start_repair()

    def start_repair(self) -> None:
        """Repair in a thread of its own (one at a time), so it never waits behind a long embedding run."""
        running = getattr(self, "_repairing", None)
        if running is not None and running.is_alive():
            return
        thread = threading.Thread(target=self._repair_logged, name="paperfeed-index-repair", daemon=True)
        self._repairing = thread
        thread.start()

    def _repair_logged(self) -> None:
        try:
            self.repair()
        except Exception:  # noqa: BLE001 - the background rebuild (refresh) still runs
            log.exception("repairing the search index files failed; they are rebuilt by the next refresh")

    def repair(self) -> None:
        """Write the visible folders again from the private copies (or rebuild those from the store)."""
        for visible in list(self.damage):
            path = Path(visible)
            with file_lock(lock_of(path), blocking=True):
                if visible == str(self.lexical_dir):
                    source = getattr(self.lexical, "path", None)
                else:
                    source = getattr(self._dense.get(path.name), "folder", None)
                good = self._generation.get(visible) != "damaged"
                if self.serving and good and source is not None and snapshot.check(source) is None:
                    self._generation[visible] = snapshot.publish(source, path)["generation"]
                    self.damage.pop(visible, None)
                    log.info("search index files in %s written again from the private copy", path)


def lock_of(visible: Path) -> Path:
    """The writer lock of an index folder: ``<index_dir>/lexical.lock``, ``<index_dir>/dense/<model>.lock``."""
    return visible.parent / (visible.name + ".lock")


def drop_if_damaged(owner: PrivateCopies, visible: Path, *, locked: bool) -> None:
    """Without a private copy (a command, not a server): a damaged folder is removed, under its lock, so the
    refresh rebuilds it from the store."""
    with contextlib.ExitStack() as stack:
        if not locked:
            stack.enter_context(file_lock(lock_of(visible), blocking=True))
        problem = snapshot.check(visible)
        if problem is not None:
            owner._note_damage(visible, problem)
            shutil.rmtree(visible, ignore_errors=True)


def generation_of(folder: Path) -> str | None:
    return snapshot.generation(folder)
