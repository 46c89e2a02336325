"""Compressed inputs, read transparently: ``.gz`` files and single-file ``.zip`` archives.

Kaggle ships the arXiv snapshot as a zip holding ``arxiv-metadata-oai-snapshot.json``; harvested pages
are often kept gzipped. Both are decompressed as a stream (constant memory), and the format is detected
from the decompressed content and the inner file name.
"""

from __future__ import annotations

import errno
import gzip
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# What a damaged archive raises while it is being read.
DAMAGE_ERRORS: tuple[type[BaseException], ...] = (EOFError, gzip.BadGzipFile, zlib.error, zipfile.BadZipFile)


class ArchiveError(ValueError):
    """An archive Paperfeed cannot read as one input (several files inside, or unreadable)."""


class InputFileError(ValueError):
    """A path that is not a readable regular file: missing, a directory, a FIFO or device, a symlink loop."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory; pass the files inside it"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file; save the data to a file and ingest that"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    return "is not a regular file"


def _stat_problem(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{path}: symlink loop (too many levels of symbolic links)"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"{path}: broken symlink (its target {os.readlink(path)} does not exist)"
    if exc.errno == errno.ENOENT:
        return f"{path}: no such file"
    return f"{path}: {exc.strerror or exc}"


def check_input_file(path: Path) -> None:
    """Raise InputFileError (one line naming ``path``) unless it is a regular file, without opening it.

    A FIFO is refused here rather than opened: opening one blocks until a writer appears.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputFileError(_stat_problem(path, exc)) from exc
    if not stat.S_ISREG(mode):
        raise InputFileError(f"{path}: {_kind(mode)}")


def open_regular(path: Path) -> BinaryIO:
    """``path`` opened for binary reading, refusing anything but a regular file without ever blocking.

    The file is opened non-blocking and checked with ``fstat``, so a path swapped for a FIFO after
    :func:`check_input_file` still cannot hang the command.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputFileError(_stat_problem(path, exc)) from exc
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise InputFileError(f"{path}: {_kind(mode)}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


@contextmanager
def open_input(path: Path, wrap: Callable[[BinaryIO], BinaryIO] | None = None) -> Iterator[tuple[BinaryIO, str]]:
    """The decompressed content of ``path`` as a binary stream, with the name to detect its format by.

    ``wrap`` is applied to the raw file first (the ingest runner counts compressed bytes read with it,
    so a progress bar over the file size stays right).
    """
    with open_regular(path) as f:
        magic = f.read(4)
        f.seek(0)
        src: BinaryIO = wrap(f) if wrap else f
        if magic[:2] == GZIP_MAGIC:
            inner = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
            with gzip.GzipFile(fileobj=src, mode="rb") as g:
                yield g, inner  # type: ignore[misc]
        elif magic == ZIP_MAGIC:
            with _zip_member(src, path) as (member, inner):
                yield member, inner
        else:
            yield src, path.name


@contextmanager
def _zip_member(src: BinaryIO, path: Path) -> Iterator[tuple[BinaryIO, str]]:
    try:
        archive = zipfile.ZipFile(src)
    except DAMAGE_ERRORS as exc:
        raise ArchiveError(f"{path}: damaged zip archive: {exc}") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1:
            names = ", ".join(m.filename for m in members[:3])
            raise ArchiveError(
                f"{path}: the zip archive holds {len(members)} files ({names}); unpack it and pass the files"
            )
        with archive.open(members[0]) as member:
            yield member, members[0].filename  # type: ignore[misc]


def read_head(path: Path, size: int = 4096) -> tuple[bytes, str]:
    """The first ``size`` decompressed bytes of ``path`` and the name to detect its format by."""
    with open_input(path) as (stream, inner):
        try:
            return stream.read(size), inner
        except DAMAGE_ERRORS as exc:
            raise ArchiveError(f"{path}: damaged compressed file: {exc}") from exc
