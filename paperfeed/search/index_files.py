"""Index files a running server can trust: a manifest per index folder, checks, private copies, publishing.

Every index folder (``lexical/``, ``dense/<model>/``) gets ``paperfeed.manifest.json`` after each committed
write: each file's size, modification time and BLAKE2 digest. A server never memory-maps the files under the
index directory: it copies them (a copy, never a hard link, so truncating the visible files cannot reach the
pages it maps) into a private folder outside the data directory, verifying every digest on the way, and opens
that copy. It writes into its private copy too and *publishes* the result (each changed file written under a
temporary name and renamed, the manifest last). :func:`check` compares a folder with its manifest (sizes and
times at every look, digests when they differ), so damage is found, named and repaired from the private copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
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


def _files(folder: Path) -> list[Path]:
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


def generation(folder: Path) -> str | None:
    """The generation named by ``folder``'s manifest (a new one at every committed write), or None."""
    manifest = read_manifest(folder)
    return None if manifest is None else str(manifest.get("generation"))


def write_manifest(folder: Path, known: dict[str, Any] | None = None) -> dict[str, Any]:
    """List every file of ``folder`` with its size, time and digest (a file unchanged since ``known`` keeps
    its digest unread); written atomically. Call it holding the folder's writer lock."""
    files: dict[str, dict[str, Any]] = {}
    old = (known or {}).get("files", {})
    for path in _files(folder):
        st = path.stat()
        prev = old.get(path.name)
        same = prev and prev["size"] == st.st_size and prev["mtime_ns"] == st.st_mtime_ns
        digest = prev["digest"] if same else digest_file(path)
        files[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "digest": digest}
    manifest = {"generation": uuid.uuid4().hex, "files": files}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (MANIFEST + f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(manifest, sort_keys=True), encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return manifest


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
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
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


def publish(src: Path, dst: Path) -> dict[str, Any]:
    """Make ``dst`` (a visible index folder) hold exactly ``src``'s files (a private copy that was just
    committed): changed files are written under a temporary name and renamed, files ``src`` no longer has are
    removed, and the manifest comes last. Call it holding the folder's writer lock."""
    src_manifest = write_manifest(src, read_manifest(src))
    if (dst.exists() and not dst.is_dir()) or (dst.is_symlink() and not dst.exists()):
        dst.unlink()  # a file put where the folder belongs (check() reported it): the folder is written anew
    dst.mkdir(parents=True, exist_ok=True)
    current = read_manifest(dst) or {"files": {}}
    for name, entry in src_manifest["files"].items():
        have = current["files"].get(name)
        if have and have["digest"] == entry["digest"] and _unchanged(dst / name, have):
            continue
        tmp = dst / f"{name}.tmp-{os.getpid()}"
        shutil.copyfile(src / name, tmp)
        os.replace(tmp, dst / name)
    for path in _files(dst):
        if path.name not in src_manifest["files"]:
            path.unlink(missing_ok=True)
    return write_manifest(dst, current)


def _unchanged(path: Path, entry: dict[str, Any]) -> bool:
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == entry["size"] and st.st_mtime_ns == entry["mtime_ns"]
