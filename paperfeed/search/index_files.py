"""Index folders a server can trust: a manifest per folder, checks, and a reader's verified private copies.

Every folder of a published generation (``lexical/``, ``dense/<model>/``) holds ``paperfeed.manifest.json``:
each file's size, modification time and BLAKE2 digest (written by :mod:`paperfeed.search.generations`). A
server never memory-maps the published files: it copies them (a copy, never a hard link, so truncating the
published files cannot reach the pages it maps) into a private folder outside the data directory, verifying
every digest on the way (:func:`copy_verified`), and opens that copy. :func:`check` compares a folder with its
manifest (sizes and times, digests when they differ), so the writer finds damage and publishes again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

MANIFEST = "paperfeed.manifest.json"
SKIP_SUFFIXES = (".lock",)
SKIP_PARTS = (".tmp", ".old-")
PRIVATE_PREFIX = "paperfeed-serving-"
CHUNK = 1 << 20


class IndexFilesError(RuntimeError):
    """A folder that does not match its manifest; the message names the file and what is wrong."""


def _skipped(name: str) -> bool:
    return name == MANIFEST or name.endswith(SKIP_SUFFIXES) or any(p in name for p in SKIP_PARTS)


def digest_file(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def files_of(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not _skipped(p.name))


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, or None when it has none (or it is unreadable)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None


def check(folder: Path, manifest: dict[str, Any] | None = None, *, full: bool = False) -> str | None:
    """What is wrong with ``folder`` compared with its manifest, or None when it matches (or has none yet).
    Sizes and times are compared always; digests when those differ, or for every file with ``full``."""
    if folder.exists() and not folder.is_dir():
        return f"{folder}: a file where the index folder belongs"
    manifest = manifest or read_manifest(folder)
    if manifest is None:
        return None if not (folder / MANIFEST).exists() else f"{folder / MANIFEST}: unreadable"
    for name, entry in manifest["files"].items():
        path = folder / name
        try:
            st = path.stat()
        except OSError:
            return f"{path}: missing"
        if st.st_size != entry["size"]:
            return f"{path}: {st.st_size} bytes, expected {entry['size']} (truncated or overwritten)"
        if full or st.st_mtime_ns != entry["mtime_ns"]:
            try:
                if digest_file(path) != entry["digest"]:
                    return f"{path}: contents changed (checksum mismatch)"
            except OSError as exc:
                return f"{path}: unreadable ({exc.strerror or exc})"
    return None


def private_root(tag: str) -> Path:
    """A new private folder for a server's copies, outside the data directory (removed by :func:`discard`);
    folders left by servers that no longer run are removed first."""
    remove_stale_private()
    return Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{os.getpid()}-{tag}-"))


def discard(path: Path | None) -> None:
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)


def remove_stale_private() -> None:
    """Delete private folders left by servers that no longer run (killed without cleaning up)."""
    for path in Path(tempfile.gettempdir()).glob(f"{PRIVATE_PREFIX}*"):
        try:
            pid = int(path.name[len(PRIVATE_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def copy_verified(src: Path, dst: Path, *, reuse: Path | None = None) -> dict[str, Any]:
    """Copy the files ``src``'s manifest lists into the new folder ``dst``, checking each digest on the bytes
    copied; files identical in ``reuse`` (an older private copy) are linked from there instead of copied.
    Raises :class:`IndexFilesError` naming the first file that does not match (``dst`` is then removed)."""
    manifest = read_manifest(src)
    if manifest is None:
        raise IndexFilesError(f"{src / MANIFEST}: missing or unreadable")
    old = read_manifest(reuse) if reuse is not None else None
    dst.mkdir(parents=True, exist_ok=False)
    try:
        for name, entry in manifest["files"].items():
            prev = (old or {}).get("files", {}).get(name)
            if reuse is not None and prev and prev["digest"] == entry["digest"] and (reuse / name).is_file():
                os.link(reuse / name, dst / name)
                continue
            _copy_one(src / name, dst / name, entry)
        (dst / MANIFEST).write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
    except BaseException:
        shutil.rmtree(dst, ignore_errors=True)
        raise
    return manifest


def _copy_one(src: Path, dst: Path, entry: dict[str, Any]) -> None:
    h = hashlib.blake2b(digest_size=16)
    size = 0
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            while chunk := fin.read(CHUNK):
                h.update(chunk)
                fout.write(chunk)
                size += len(chunk)
    except FileNotFoundError as exc:
        raise IndexFilesError(f"{src}: missing") from exc
    except OSError as exc:
        raise IndexFilesError(f"{src}: unreadable ({exc.strerror or exc})") from exc
    if size != entry["size"] or h.hexdigest() != entry["digest"]:
        raise IndexFilesError(f"{src}: {size} bytes, does not match its manifest (truncated or corrupted)")
