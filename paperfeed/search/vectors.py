"""Vector storage on disk: segments of ``.npy`` vectors + ``.json`` ids, and one ``meta.json``, named by role.

Every file is written to a temporary name and renamed into place, so a killed writer leaves either the old
file or the new one, never half of one. ``meta.json`` is written last and names the segments that count:
a segment file it does not list is debris from a killed run and is ignored (then removed).

Rows are numbered across segments in order (segment 0 first); a paper that is re-embedded gets a new row and
its old row becomes stale. Row numbers are stable until ``compact(renumber=True)``, which drops stale rows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

META = "meta.json"
FORMAT_VERSION = 1


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        np.save(fh, array, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_save_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class VectorStoreError(RuntimeError):
    """A vector folder that cannot be read; the message names the file."""


@dataclass
class VectorStore:
    """The vectors of one model in one folder. ``meta`` holds model, fingerprint, dim, count, watermark."""

    folder: Path
    meta: dict[str, Any] = field(default_factory=dict)
    segments: list[np.ndarray] = field(default_factory=list)
    seg_ids: list[list[str]] = field(default_factory=list)
    seg_hashes: list[list[str]] = field(default_factory=list)

    # ------------------------------------------------------------ load / create

    @classmethod
    def load(cls, folder: Path) -> VectorStore:
        """The store in ``folder`` (empty when it has no meta.json)."""
        store = cls(folder=folder)
        meta_path = folder / META
        if not meta_path.is_file():
            return store
        try:
            store.meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VectorStoreError(
                f"{meta_path}: unreadable ({exc}); delete the folder and run `paperfeed index` to rebuild"
            ) from exc
        for name in store.meta.get("segments", []):
            store._load_segment(name)
        return store

    def _load_segment(self, name: str) -> None:
        base = self.folder / name
        try:
            vectors = np.load(f"{base}.vectors.npy", mmap_mode="r")
            ids = json.loads(Path(f"{base}.ids.json").read_text(encoding="utf-8"))
            hashes = json.loads(Path(f"{base}.sha1.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise VectorStoreError(
                f"{base}: segment unreadable ({exc}); delete {self.folder} and run `paperfeed index`"
            ) from exc
        dim = self.meta.get("dim")
        if len(ids) != len(vectors) or len(hashes) != len(ids) or (dim and vectors.shape[1] != dim):
            raise VectorStoreError(
                f"{base}: ids, hashes and vectors disagree; delete {self.folder} and run `paperfeed index`"
            )
        self.segments.append(vectors)
        self.seg_ids.append(ids)
        self.seg_hashes.append(hashes)

    def reset(self, **meta: Any) -> None:
        """Forget every vector (a new model: a fresh space) and start with ``meta``."""
        for name in self.meta.get("segments", []):
            for suffix in (".vectors.npy", ".ids.json", ".sha1.json"):
                Path(f"{self.folder / name}{suffix}").unlink(missing_ok=True)
        self.meta = {"format": FORMAT_VERSION, "segments": [], "next_segment": 0, **meta}
        self.segments, self.seg_ids, self.seg_hashes = [], [], []
        self.save_meta()

    # ------------------------------------------------------------ rows

    @property
    def rows(self) -> int:
        return sum(len(ids) for ids in self.seg_ids)

    def all_ids(self) -> list[str]:
        return [i for ids in self.seg_ids for i in ids]

    def all_hashes(self) -> list[str]:
        return [h for hs in self.seg_hashes for h in hs]

    def matrix(self) -> np.ndarray:
        """All rows as one float32 matrix (a memory map when there is one segment)."""
        if not self.segments:
            return np.zeros((0, int(self.meta.get("dim") or 0)), dtype=np.float32)
        if len(self.segments) == 1:
            return self.segments[0]
        return np.concatenate(self.segments)

    # ------------------------------------------------------------ writes

    def append(self, vectors: np.ndarray, ids: list[str], hashes: list[str]) -> None:
        """Write one new segment, then list it in meta.json (the commit point)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        number = int(self.meta.get("next_segment", 0))
        name = f"seg-{number:06d}"
        base = self.folder / name
        atomic_save_npy(Path(f"{base}.vectors.npy"), np.ascontiguousarray(vectors, dtype=np.float32))
        atomic_save_json(Path(f"{base}.ids.json"), ids)
        atomic_save_json(Path(f"{base}.sha1.json"), hashes)
        self.segments.append(vectors)
        self.seg_ids.append(list(ids))
        self.seg_hashes.append(list(hashes))
        self.meta["segments"] = [*self.meta.get("segments", []), name]
        self.meta["next_segment"] = number + 1
        self.save_meta()

    def compact(self, keep: np.ndarray | None = None) -> None:
        """Merge all segments into one; with ``keep`` (row indices) keep only those rows, renumbering them."""
        if not self.segments or (len(self.segments) == 1 and keep is None):
            return
        matrix = np.asarray(self.matrix())
        ids, hashes = self.all_ids(), self.all_hashes()
        if keep is not None:
            matrix = matrix[keep]
            ids = [ids[i] for i in keep]
            hashes = [hashes[i] for i in keep]
        old = list(self.meta.get("segments", []))
        self.meta["segments"] = []
        self.segments, self.seg_ids, self.seg_hashes = [], [], []
        self.append(matrix, ids, hashes)  # meta now lists only the new segment
        for name in old:
            for suffix in (".vectors.npy", ".ids.json", ".sha1.json"):
                Path(f"{self.folder / name}{suffix}").unlink(missing_ok=True)

    def save_meta(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.meta["count"] = self.rows
        atomic_save_json(self.folder / META, self.meta)

    def remove_debris(self) -> None:
        """Delete segment and temporary files that meta.json does not list (left by a killed run)."""
        listed = set(self.meta.get("segments", []))
        for path in self.folder.glob("seg-*"):
            if path.name.split(".")[0] not in listed:
                path.unlink(missing_ok=True)
        for path in self.folder.glob("*.tmp-*"):
            path.unlink(missing_ok=True)
